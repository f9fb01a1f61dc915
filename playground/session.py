"""The composition root: builds the profile, catalog, store and chat service every front end uses."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from playground.catalog import Catalog, build_catalog, describe
from playground.chat import ChatService
from playground.paths import default_db_path, resolve_profile
from playground.profile import ModelSpec, Profile, load_profile
from playground.providers import ollama
from playground.store import Store


@dataclass
class Session:
    profile_path: Path
    profile: Profile
    catalog: Catalog
    store: Store
    chat: ChatService
    incognito: bool = False
    """Chats of this run start incognito: their text is not stored."""

    def refresh_local_models(self, ollama_base: str = ollama.OLLAMA_BASE) -> int:
        """Look for a running Ollama server and offer its models; returns how many were found."""
        found = ollama.discover(ollama_base)
        self.catalog = build_catalog(self.profile, extra=found)
        self.chat.catalog = self.catalog
        return len(found)

    def add_model(self, name: str, api_base: str | None = None) -> str:
        """Make `name` (a profile alias or any LiteLLM model string) callable; returns its alias.

        With an explicit api_base no profile key is sent: the user pointed us at a server of their
        choosing, and a provider's key must not leak to it.
        """
        if name in self.catalog and api_base is None:
            return name
        if name in self.catalog:
            base = self.catalog[name].spec
        else:
            # A bare name with an api_base ("llama3.2") means that server's OpenAI-compatible API.
            base = ModelSpec(model=f"openai/{name}" if api_base and "/" not in name else name)
        spec = base.model_copy(update={"api_base": api_base, "key_env": None}) if api_base else base
        alias = name if api_base is None else f"{name}@{api_base}"
        models = dict(self.catalog.models)
        models[alias] = describe(alias, spec, os.environ)
        self.catalog = replace(self.catalog, models=models)
        self.chat.catalog = self.catalog
        return alias


def open_session(profile: str | None = None, db: str | Path | None = None, incognito: bool = False) -> Session:
    """Raises ProfileError or StoreError with a one-line message."""
    path = resolve_profile(profile)
    loaded = load_profile(path)
    store = Store(Path(db) if db else default_db_path())
    catalog = build_catalog(loaded)
    return Session(path, loaded, catalog, store, ChatService(loaded, catalog, store), incognito)
