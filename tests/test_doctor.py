"""`playground doctor` on a healthy machine and with a broken history file."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from playground.config.local_model import runtime_problem


def doctor(home, *args):
    return subprocess.run([sys.executable, "-m", "playground", "doctor", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PLAYGROUND_HOME": str(home)})


def test_healthy_machine_without_keys(tmp_path):
    result = doctor(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "○ key OPENAI_API_KEY: not set; gpt-4o-mini, gpt-4.1 unavailable" in result.stdout
    assert "✓ history: " in result.stdout and "schema v" in result.stdout
    if runtime_problem() is None:
        assert "✓ local model: SmolLM2-135M loads in" in result.stdout


def test_a_corrupt_history_is_a_problem_with_a_fix(tmp_path):
    (tmp_path / "history.db").write_bytes(b"garbage" * 200)
    result = doctor(tmp_path, "--json")
    assert result.returncode == 1
    history = next(c for c in json.loads(result.stdout) if c["name"] == "history")
    assert not history["ok"] and "not a usable history database" in history["detail"]
    assert history["fix"] == "move the file aside or pass --db PATH"


def test_the_profiles_offline_encoder_is_checked(tmp_path):
    from playground.base.paths import resolve_profile
    from playground.config.profile import Embeddings, load_profile
    from playground.policy.export import to_profile_yaml
    from playground.router.embeddings import E5_ID, MINILM_ID

    semantic = load_profile(resolve_profile("semantic"))
    for model, name in (("local", MINILM_ID), ("local-multilingual", E5_ID)):
        path = tmp_path / f"{model}.yaml"
        path.write_text(to_profile_yaml(semantic.model_copy(update={"embeddings": Embeddings(model=model)})))
        checks = json.loads(doctor(tmp_path, "--json", "--profile", str(path)).stdout)
        embeddings = next(c for c in checks if c["name"] == "embeddings")
        assert embeddings["ok"] and embeddings["detail"].startswith(f"{name} loads and checks out"), embeddings
