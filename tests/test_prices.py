"""Price refresh from a (local) mirror, the dated cache, and what the router then quotes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from playground.base.paths import resolve_profile
from playground.config import prices
from playground.config.catalog import build_catalog
from playground.config.profile import load_profile


@pytest.fixture
def mirror(tmp_path):
    """A static file server on loopback standing in for the public price lists."""
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_refreshed_litellm_prices_are_used_and_named_in_the_trace(mirror):
    folder, base = mirror
    (folder / "map.json").write_text(json.dumps({
        "gpt-4o-mini": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6, "litellm_provider": "openai"},
        "broken": {"input_cost_per_token": "free"},
    }))
    count, path = prices.refresh("litellm", f"{base}/map.json")
    assert count == 1 and path == prices.cache_path()
    table = prices.load_prices()
    assert table.source.startswith("litellm (20")
    catalog = build_catalog(load_profile(resolve_profile("default")), env={}, prices=table)
    info = catalog["gpt-4o-mini"]
    assert (info.input_price, info.output_price) == (1e-6, 2e-6)
    assert info.price_source == table.source
    # Models the refresh did not cover keep their bundled price.
    assert catalog["gpt-4.1"].input_price == prices.lookup(prices.PriceTable(prices._bundled(), ""),
                                                           "openai/gpt-4.1")["input_cost_per_token"]


def test_openrouter_prices_map_onto_litellm_model_names(mirror):
    folder, base = mirror
    (folder / "models.json").write_text(json.dumps({"data": [
        {"id": "google/gemini-2.5-flash", "pricing": {"prompt": "0.0000003", "completion": "0.0000025"},
         "context_length": 1048576},
        {"id": "nonsense"},
    ]}))
    prices.refresh("openrouter", f"{base}/models.json")
    entry = prices.lookup(prices.load_prices(), "gemini/gemini-2.5-flash")
    assert entry["input_cost_per_token"] == 3e-7 and entry["max_input_tokens"] == 1048576


def test_failed_refresh_keeps_the_previous_prices(mirror):
    folder, base = mirror
    (folder / "map.json").write_text(json.dumps({"m": {"input_cost_per_token": 1, "output_cost_per_token": 1}}))
    prices.refresh("litellm", f"{base}/map.json")
    before = prices.cache_path().read_bytes()
    (folder / "bad.json").write_text("<html>not json</html>")
    with pytest.raises(prices.PriceError, match="not a litellm price list"):
        prices.refresh("litellm", f"{base}/bad.json")
    with pytest.raises(prices.PriceError, match="HTTP 404"):
        prices.refresh("litellm", f"{base}/missing.json")
    assert prices.cache_path().read_bytes() == before


def test_cli_reports_an_unreachable_source_in_one_line(tmp_path):
    # Port 9 on loopback: refused at once, as an offline machine would fail.
    result = subprocess.run([sys.executable, "-m", "playground", "prices", "refresh", "--url",
                             "http://127.0.0.1:9/map.json"], capture_output=True, text=True, timeout=60,
                            env={"PLAYGROUND_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("playground: error: cannot reach http://127.0.0.1:9/map.json")
    assert "bundled prices stay in use" in result.stderr
