"""Offline token counting with tiktoken, using the BPE files LiteLLM ships (no download)."""

from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Template:
    """What a chat format adds around the messages, in tokens: each message's markers and role, the
    header that opens the reply, and a system prompt the template inserts when the request has none."""

    name: str
    per_message: int
    reply_header: int
    default_system: str = ""


# Counted on the formats' own special tokens (`<|im_start|>role\n … <|im_end|>\n` is 5 with the role).
OPENAI = Template("openai", 3, 3)
CHATML = Template("chatml", 5, 3)
# <|begin_of_text|> once, then <|start_header_id|>role<|end_header_id|>\n\n; 3.1+ insert a dated system prompt.
LLAMA3 = Template("llama3", 5, 5, "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024")
MISTRAL = Template("mistral", 4, 1)  # [INST] … [/INST]
GEMMA = Template("gemma", 5, 3)  # <start_of_turn>role\n … <end_of_turn>\n
SMOLLM = Template("smollm", 5, 3, "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
QWEN = Template("qwen", 5, 3, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")

# Model-name fragments of open-weight families served by llama.cpp, Ollama and the like; the rest
# (hosted APIs) count as OpenAI does.
_FAMILIES = (("smollm", SMOLLM), ("qwen", QWEN), ("llama-3", LLAMA3), ("llama3", LLAMA3), ("mistral", MISTRAL),
             ("mixtral", MISTRAL), ("gemma", GEMMA), ("phi-3", CHATML), ("phi3", CHATML), ("hermes", CHATML))


def template_for(model: str) -> Template:
    name = model.lower()
    if name.startswith(("openai/gpt", "gpt-", "anthropic/", "claude", "gemini/", "vertex")):
        return OPENAI
    return next((template for fragment, template in _FAMILIES if fragment in name), OPENAI)


def count_messages(messages: list[dict], template: Template = OPENAI) -> int:
    """Prompt tokens of a chat request as the model's chat template lays it out (an estimate: the
    text is counted with tiktoken, not the model's own tokenizer)."""
    total = sum(template.per_message + count_text(str(m.get("content") or "")) for m in messages)
    if template.default_system and not any(m.get("role") == "system" for m in messages):
        total += template.per_message + count_text(template.default_system)
    return total + template.reply_header
