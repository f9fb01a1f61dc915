"""Models of a running Ollama server, offered as further local models without configuration."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from playground.config.profile import ModelSpec, Price

OLLAMA_BASE = "http://127.0.0.1:11434"


@dataclass(frozen=True)
class Probe:
    """What answers at an address: Ollama (with its models), another server, or nothing."""

    base: str
    ollama: bool = False
    models: dict[str, ModelSpec] = field(default_factory=dict)
    other: str = ""
    """When something that is not Ollama answers: what it said about itself."""
    openai_models: tuple[str, ...] = ()
    """The models it lists at /v1/models, when it speaks the OpenAI API."""


def _get(url: str, timeout: float) -> tuple[int, str, object]:
    """(HTTP status, Server header, parsed JSON or None); raises OSError when nothing answers."""
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as error:  # it answered, with an error status
        response = error
    with response:
        body = response.read(1_000_000)
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        return response.status, (response.headers.get("Server") or "").strip(), data


def probe(base: str = OLLAMA_BASE, timeout: float = 0.5, identify: bool = True) -> Probe:
    """With `identify`, a server that is not Ollama is asked for its OpenAI-compatible model list too."""
    try:
        status, server, data = _get(f"{base}/api/tags", timeout)
    except (OSError, urllib.error.URLError):
        return Probe(base)
    if status == 200 and isinstance(data, dict) and isinstance(data.get("models"), list):
        return Probe(base, ollama=True, models=_ollama_models(base, data["models"]))
    said = f"HTTP {status} for /api/tags" + (f", Server: {server}" if server else "")
    if not identify:
        return Probe(base, other=said)
    listed: tuple[str, ...] = ()
    try:
        _status, _server, models = _get(f"{base}/v1/models", timeout)
        if isinstance(models, dict) and isinstance(models.get("data"), list):
            listed = tuple(m["id"] for m in models["data"] if isinstance(m, dict) and isinstance(m.get("id"), str))
    except (OSError, urllib.error.URLError):
        pass
    return Probe(base, other=said, openai_models=listed)


def discover(base: str = OLLAMA_BASE, timeout: float = 0.5) -> dict[str, ModelSpec]:
    """{alias: spec} for each installed Ollama model; empty when no Ollama server answers."""
    return probe(base, timeout, identify=False).models


def _ollama_models(base: str, entries: list) -> dict[str, ModelSpec]:
    models = {}
    for entry in entries:
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str) and name:
            # Ollama's OpenAI-compatible endpoint: the same streaming and accounting path as every model.
            models[f"ollama:{name}"] = ModelSpec(
                model=f"openai/{name}", api_base=f"{base}/v1", label=f"{name} (Ollama)",
                price=Price(input_per_mtok=0, output_per_mtok=0), tags=("local", "ollama"))
    return models
