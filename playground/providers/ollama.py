"""Models of a running Ollama server, offered as further local models without configuration."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from playground.config.profile import ModelSpec, Price

OLLAMA_BASE = "http://127.0.0.1:11434"


def discover(base: str = OLLAMA_BASE, timeout: float = 0.5) -> dict[str, ModelSpec]:
    """{alias: spec} for each installed Ollama model; empty when no server answers."""
    try:
        with urllib.request.urlopen(f"{base}/api/tags", timeout=timeout) as response:
            data = json.loads(response.read(1_000_000))
    except (OSError, ValueError, urllib.error.URLError):
        return {}
    models = {}
    for entry in data.get("models", []) if isinstance(data, dict) else []:
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str) and name:
            # Ollama's OpenAI-compatible endpoint: the same streaming and accounting path as every model.
            models[f"ollama:{name}"] = ModelSpec(
                model=f"openai/{name}", api_base=f"{base}/v1", label=f"{name} (Ollama)",
                price=Price(input_per_mtok=0, output_per_mtok=0), tags=("local", "ollama"))
    return models
