"""No telemetry (README): a semantic decision writes only into the data directory and reaches no host.

onnxruntime reads ORT_DISABLE_TELEMETRY when it is imported; without it, it writes a device id and a
database under ~/.cache/Microsoft/DeveloperTools/ and may resolve its telemetry host. The product sets
the variable itself, so this runs in a child Python whose environment does not have it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from playground.router.embeddings import minilm_path
from tests.support.helpers import guarded_env

CHILD = """
import json, os, sys

seen = {}

def on_import(event, args):
    # The first import of onnxruntime is when its native library reads the environment.
    if event == "import" and args[0] == "onnxruntime" and "ort_env" not in seen:
        seen["ort_env"] = os.environ.get("ORT_DISABLE_TELEMETRY")

sys.addaudithook(on_import)

from playground.base.paths import resolve_profile
from playground.base.tokens import count_text
from playground.config.catalog import build_catalog
from playground.config.profile import load_profile
from playground.router import RouteRequest, decide
from playground.router.semantic import build_index

from playground.router.embeddings import minilm_built

profile = load_profile(resolve_profile("semantic"))
assert not minilm_built()  # as the CLI asks before its first encode
prompt = "Traduis cette phrase en anglais, s'il te plaît"
n = count_text(prompt)
decision = decide(RouteRequest(prompt, n, n + 7), profile, build_catalog(profile, env={}),
                  semantic=build_index(profile))
print(json.dumps({"route": decision.route, "stage": decision.stage, **seen}))
"""


def _files(*roots: Path) -> set[Path]:
    return {Path(folder) / name for root in roots for folder, _, names in os.walk(root) for name in names}


@pytest.mark.skipif(minilm_path() is None, reason="the offline embedding model (the [local] extra) is missing")
def test_a_semantic_decision_writes_only_its_data_and_reaches_no_host(tmp_path):
    home, scratch, data = tmp_path / "home", tmp_path / "tmp", tmp_path / "home" / "data"
    for folder in (home, scratch, data):
        folder.mkdir()
    netlog = tmp_path / "net.log"
    env = guarded_env(netlog, HOME=str(home), TMPDIR=str(scratch), PLAYGROUND_HOME=str(data),
                      XDG_CACHE_HOME=str(home / ".cache"))
    env.pop("ORT_DISABLE_TELEMETRY", None)  # the product must set it, not the caller
    env.pop("PLAYGROUND_MODELS", None)  # the encoder's int8 model is built here, in the data directory
    before = _files(home, scratch)

    result = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120, env=env,
                            cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert (report["route"], report["stage"]) == ("translation", "semantic")  # the encoder really ran
    assert report["ort_env"] == "1", "onnxruntime was imported before ORT_DISABLE_TELEMETRY was set"
    written = sorted(str(p.relative_to(tmp_path)) for p in _files(home, scratch) - before
                     if not p.is_relative_to(data))
    assert written == [], f"files written outside the data directory: {written}"
    assert [p.name for p in (data / "models").iterdir()] == [next((data / "models").glob("minilm-*.onnx")).name]
    # Python-level lookups and connects; the child's sitecustomize (tests/support/netguard) logs refusals.
    assert not netlog.exists() or netlog.read_text() == "", f"hosts reached: {netlog.read_text().split()}"
