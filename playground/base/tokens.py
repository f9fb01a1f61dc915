"""Offline token counting with tiktoken, using the BPE files LiteLLM ships (no download)."""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

ENCODING = "o200k_base"


def _point_tiktoken_at_bundled_files() -> None:
    # tiktoken downloads BPE files on first use; LiteLLM ships them. Mirror what LiteLLM does at its
    # own import so counting works offline before (and without) importing LiteLLM.
    if os.environ.get("TIKTOKEN_CACHE_DIR"):
        return
    spec = importlib.util.find_spec("litellm")
    if spec and spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"
        if folder.is_dir():
            os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)


@functools.cache
def _encoding():
    _point_tiktoken_at_bundled_files()
    import tiktoken

    return tiktoken.get_encoding(ENCODING)


def count_text(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


def count_messages(messages: list[dict]) -> int:
    """Prompt tokens of a chat request, with OpenAI's per-message overhead."""
    return sum(4 + count_text(str(m.get("content") or "")) for m in messages) + 3
