"""The playground's routing inside the LiteLLM proxy: a callback that decides each request's model.

`playground export` writes a module beside the proxy config that creates one ProfileRouting for the exported
profile. The proxy calls `async_pre_call_hook` before routing; a request for `model: <profile name>` is
decided by the same decide() the playground uses (rules, tags, token counts, semantic and learned routes,
selection), then sent to the chosen model with the rest of the chain as that request's fallbacks.
Requests for any other model pass through untouched. Imported only inside the proxy (it needs LiteLLM's
proxy extra).
"""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path

from litellm.integrations.custom_logger import CustomLogger

from playground.base import tokens
from playground.config.catalog import build_catalog
from playground.config.profile import Profile, load_profile
from playground.router.decide import Decision, NoModelAvailable, RouteRequest, decide
from playground.router.embeddings import EmbeddingError
from playground.router.rules import split_tags
from playground.router.semantic import AnyIndex, build_index

log = logging.getLogger("playground.proxy")


def _text(content) -> str:
    """A message's text: a string, or the text parts of a multimodal content list."""
    if isinstance(content, list):
        return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content or "")


def request_for(profile: Profile, messages: list[dict]) -> tuple[RouteRequest, list[dict]]:
    """The routing request for a chat request, as the playground's chat builds it, and the messages to send:
    leading `#tag` words the profile routes on are hints for the router, taken off the last user message."""
    last = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=None)
    if last is None:
        return RouteRequest("", 0, tokens.count_messages(messages)), messages
    tags, text = split_tags(_text(messages[last].get("content")), profile.task_tags)
    if tags:
        messages = [*messages[:last], {**messages[last], "content": text}, *messages[last + 1:]]
    return RouteRequest(text, tokens.count_text(text), tokens.count_messages(messages), tags), messages


class ProfileRouting(CustomLogger):
    def __init__(self, profile_path: Path) -> None:
        super().__init__()
        self.profile = load_profile(profile_path)
        self.catalog = build_catalog(self.profile)
        self.rng = random.Random()
        self.semantic: AnyIndex | None = None
        try:
            self.semantic = build_index(self.profile)
        except EmbeddingError as exc:
            # As in the playground: semantic routes are skipped (and say so) while the index cannot load.
            log.warning("playground: semantic routes of %s are skipped: %s", self.profile.name, exc)

    def decide(self, messages: list[dict]) -> tuple[Decision, list[dict]]:
        request, messages = request_for(self.profile, messages)
        return decide(request, self.profile, self.catalog, semantic=self.semantic, rng=self.rng), messages

    async def async_pre_call_hook(self, user_api_key_dict, cache, data: dict, call_type):
        if data.get("model") != self.profile.name or not isinstance(data.get("messages"), list):
            return data
        try:
            decision, messages = await asyncio.to_thread(self.decide, data["messages"])
        except NoModelAvailable as exc:
            from fastapi import HTTPException

            raise HTTPException(status_code=503, detail=f"playground: {exc}") from None
        data["model"] = decision.model
        data["messages"] = messages
        data["fallbacks"] = list(decision.fallbacks)
        metadata = data.setdefault("metadata", {})
        if isinstance(metadata, dict):
            metadata["playground_route"] = decision.route
            metadata["playground_reason"] = decision.reason
        log.info("playground: %s → %s (%s)", self.profile.name, decision.model, decision.reason)
        return data
