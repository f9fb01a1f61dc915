"""Model prices: LiteLLM's bundled map, optionally refreshed from the network into a dated cache."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from playground.base.paths import data_dir

SOURCES = {
    "litellm": "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json",
    "openrouter": "https://openrouter.ai/api/v1/models",
}
MAX_BYTES = 30_000_000
# OpenRouter names some providers differently from LiteLLM's prefixes.
_OPENROUTER_PROVIDER = {"gemini": "google", "mistral": "mistralai", "deepseek": "deepseek", "groq": None}


class PriceError(Exception):
    """A refresh failed; the message is one line and the previous prices stay in use."""


@dataclass(frozen=True)
class PriceTable:
    entries: dict[str, dict]
    source: str
    """Shown in decision traces next to each price: where the number came from, and when."""


def cache_path() -> Path:
    return data_dir() / "prices.json"


@functools.cache
def _bundled() -> dict[str, dict]:
    """LiteLLM's bundled price map, read from its package without importing litellm (seconds)."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / "model_prices_and_context_window_backup.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def load_prices(cache: Path | None = None) -> PriceTable:
    """The refreshed cache when there is a valid one, laid over the bundled map; else the bundled map."""
    cache = cache or cache_path()
    try:
        cached = json.loads(cache.read_text())
        entries, source, fetched = cached["models"], cached["source"], cached["fetched_at"][:10]
    except (OSError, ValueError, KeyError, TypeError):
        return PriceTable(_bundled(), "litellm price map (bundled)")
    merged = dict(_bundled())
    merged.update(entries)
    return PriceTable(merged, f"{source} ({fetched})")


def lookup(table: PriceTable, model: str) -> dict | None:
    entries = table.entries
    if model in entries:
        return entries[model]
    # "openai/gpt-4o" is listed as "gpt-4o"; "groq/openai/gpt-oss-20b" as itself.
    provider, _, rest = model.partition("/")
    entry = entries.get(rest)
    if entry and entry.get("litellm_provider") in (provider, None):
        return entry
    return entries.get(openrouter_name(model))


def _fetch(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data = response.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise PriceError(f"{url}: HTTP {exc.code}; the cached or bundled prices stay in use") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PriceError(f"cannot reach {url} ({reason}); the cached or bundled prices stay in use") from None
    if len(data) > MAX_BYTES:
        raise PriceError(f"{url}: response larger than {MAX_BYTES:,} bytes; refused")
    return data


def _parse_litellm(data: object) -> dict[str, dict]:
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object of models")
    return {name: entry for name, entry in data.items()
            if isinstance(entry, dict) and isinstance(entry.get("input_cost_per_token"), (int, float))
            and isinstance(entry.get("output_cost_per_token"), (int, float))}


def _openrouter_key(model_id: str) -> str:
    return re.sub(r"[.:]", "-", model_id.lower())


def _parse_openrouter(data: object) -> dict[str, dict]:
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ValueError("expected {'data': [models]}")
    entries = {}
    for item in data["data"]:
        try:
            pricing = item["pricing"]
            entry = {"input_cost_per_token": float(pricing["prompt"]),
                     "output_cost_per_token": float(pricing["completion"]), "litellm_provider": None}
        except (KeyError, TypeError, ValueError):
            continue
        if isinstance(item.get("context_length"), int):
            entry["max_input_tokens"] = item["context_length"]
        entries[f"openrouter:{_openrouter_key(item['id'])}"] = entry
    return entries


def openrouter_name(model: str) -> str:
    """The cache key an OpenRouter price is stored under for a LiteLLM model string."""
    provider, _, rest = model.partition("/")
    provider = _OPENROUTER_PROVIDER.get(provider, provider) or provider
    return f"openrouter:{_openrouter_key(provider + '/' + rest)}"


def refresh(source: str = "litellm", url: str | None = None, cache: Path | None = None,
            timeout: float = 20.0) -> tuple[int, Path]:
    """Download prices, validate them, and write the dated cache; returns (models priced, cache path)."""
    if source not in SOURCES:
        raise PriceError(f"unknown price source {source!r}; use one of {', '.join(SOURCES)}")
    url = url or SOURCES[source]
    raw = _fetch(url, timeout)
    try:
        data = json.loads(raw)
        entries = _parse_litellm(data) if source == "litellm" else _parse_openrouter(data)
    except ValueError as exc:
        raise PriceError(f"{url}: not a {source} price list ({exc}); nothing was changed") from None
    if not entries:
        raise PriceError(f"{url}: no priced models in the response; nothing was changed")
    cache = cache or cache_path()
    cache.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    document = {"source": source, "url": url, "fetched_at": datetime.now(UTC).isoformat(),
                "models": entries}
    temporary = cache.with_suffix(".tmp")
    temporary.write_text(json.dumps(document))
    os.replace(temporary, cache)  # atomic: a reader never sees half a file
    return len(entries), cache
