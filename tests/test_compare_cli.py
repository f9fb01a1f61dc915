"""`playground compare` end to end against the local test server: the table, --json, and one-line errors."""

from __future__ import annotations

import os

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

import json
import subprocess
import sys

import pytest

from playground.cli.main import main
from playground.history.store import Store
from tests.support.helpers import compare_profile, guarded_env
from tests.support.openai_server import OpenAIStubServer


@pytest.fixture
def stub(server):
    server.script("fast", text="Paris is the capital of France.")
    server.script("broken", status=500)
    return server


@pytest.fixture
def args(tmp_path, stub):
    return ["--profile", compare_profile(tmp_path, stub.api_base, ["fast", "broken"]), "--db", str(tmp_path / "h.db")]


def test_table_lists_each_model_and_the_comparison_is_recorded(args, tmp_path, capsys):
    code = main(["compare", "capital of France?", "-m", "fast", "-m", "broken", *args])
    out, err = capsys.readouterr()
    assert code == 1  # one column failed
    header, fast, broken = out.splitlines()
    assert header.split()[:3] == ["model", "status", "tokens"]
    # Usage from the server: 3 prompt words + 7 in, 6 words out, at $1/$2 per Mtok.
    assert fast.split()[:4] == ["fast", "compared", "10/6", "$0.000022"]
    assert fast.endswith("Paris is the capital of France.")
    assert broken.startswith("broken") and "failed" in broken and "✗ server_error: HTTP 500" in broken
    assert err.startswith("conversation ")
    store = Store(tmp_path / "h.db")
    conversation = store.latest_conversation()
    assert [(m.role, m.status) for m in store.messages(conversation)] == [
        ("user", "complete"), ("assistant", "compared"), ("assistant", "failed")]
    assert len(store.attempts(conversation)) == 2


def test_json_is_one_valid_object(args, capsys):
    code = main(["compare", "hi", "-m", "fast", "-m", "broken", "--json", *args])
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert (data["route"], data["category"]) == ("everything", "everything")
    assert [(c["model_alias"], c["status"], c["failure"]) for c in data["columns"]] == [
        ("fast", "compared", None), ("broken", "failed", "server_error")]
    assert data["columns"][0]["text"] == "Paris is the capital of France."


@pytest.mark.parametrize("argv, message", [
    (["compare", "hi", "-m", "fast"], "playground: error: compare needs 2 to 6 models, got 1\n"),
    (["compare", " ", "-m", "fast", "-m", "broken"], "playground: error: the prompt is empty\n"),
    (["compare", "hi", "-m", "fast", "-m", "fast"],
     "playground: error: fast is given twice: to compare a model with itself, give one other settings, "
     "e.g. fast@temperature=1.2\n"),
])
def test_errors_are_one_line_with_exit_status_2(args, capsys, argv, message):
    assert main([*argv, *args]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", message)


def test_a_profile_error_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    assert main(["compare", "hi", "-m", "a", "-m", "b", "--profile", str(bad), "--db", str(tmp_path / "h.db")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("playground: error: ") and err.count("\n") == 1


def test_each_model_can_have_its_own_server(tmp_path, capsys):
    # Two servers on purpose: the test is that each model reaches its own api_base.
    with OpenAIStubServer() as one, OpenAIStubServer() as two:
        one.script("alpha", text="from one")
        two.script("beta", text="from two")
        code = main(["compare", "hi", "-m", f"alpha@{one.api_base}", "-m", f"beta@{two.api_base}", "--json",
                     "--db", str(tmp_path / "h.db")])
        assert code == 0, capsys.readouterr().err
        columns = json.loads(capsys.readouterr().out)["columns"]
        assert [(c["model_alias"], c["text"]) for c in columns] == [
            (f"alpha@{one.api_base}", "from one"), (f"beta@{two.api_base}", "from two")]
        assert (one.hits, two.hits) == ({"alpha": 1}, {"beta": 1})


def test_api_base_serves_the_models_that_name_no_server_and_never_labels_the_embedded_one(tmp_path, stub):
    from playground.cli.chat import add_model, split_server
    from playground.cli.common import Failed
    from playground.services.session import open_session

    session = open_session("default", tmp_path / "h.db")
    try:
        assert add_model(session, "smollm2", stub.api_base) == "smollm2"  # runs in this process
        assert add_model(session, "fast", stub.api_base) == f"fast@{stub.api_base}"
        assert add_model(session, "fast@http://10.0.0.2:8080/v1", stub.api_base) == "fast@http://10.0.0.2:8080/v1"
        assert session.catalog["fast@http://10.0.0.2:8080/v1"].spec.api_base == "http://10.0.0.2:8080/v1"
        # Settings of a variant stay with the value, after the server; no model is made of them.
        assert add_model(session, "smollm2@temperature=1.2", stub.api_base) == "smollm2@temperature=1.2"
        assert add_model(session, "fast@http://10.0.0.3/v1@temperature=1.2", None) == \
            "fast@http://10.0.0.3/v1@temperature=1.2"
        assert not [alias for alias in session.catalog.models if "temperature" in alias]
        with pytest.raises(Failed, match="smollm2 runs in this process and takes no server address"):
            add_model(session, f"smollm2@{stub.api_base}", None)
    finally:
        session.store.close()
    # Other @ suffixes (variants) stay with the name, wherever the server is written.
    assert split_server("smollm2@temperature=1.2") == ("smollm2@temperature=1.2", None)
    assert split_server("m@https://h/v1@temperature=1.2") == ("m@temperature=1.2", "https://h/v1")


def test_one_model_twice_as_variants_with_the_wait_shown_apart(args, stub, capsys):
    code = main(["compare", "hi", "-m", "fast", "-m", "fast@temperature=1.2,system=Be terse.", "--json", *args])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [c["variant"] for c in data["columns"]] == ["fast", "fast@temperature=1.2,system=Be terse."]
    first, second = data["columns"]
    # The test server is on loopback, so one model's variants take turns: the second waited for the first.
    assert first["waited_s"] == 0 and second["waited_s"] >= first["latency_s"] * 0.9
    assert {r.get("temperature") for r in stub.requests} == {None, 1.2}
    code = main(["compare", "hi", "-m", "fast", "-m", "fast@temperature=1.2", *args])
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split()[:6] == ["model", "status", "tokens", "in/out", "cost", "wait"]
    assert rows[0].split()[4] == "–" and rows[1].startswith("fast@temperature=1.2  compared")


def test_a_cold_process_waits_only_for_the_column_ahead_not_for_loading_litellm(tmp_path, stub):
    """The second column waits while the first one's request runs; the first one's set-up (importing LiteLLM,
    seconds in a fresh process) is not a queue: the second column would have waited for it alone too."""
    stub.script("fast", text="one two three four five six", chunk_delay=0.05)
    profile = compare_profile(tmp_path, stub.api_base, ["fast"])
    result = subprocess.run([sys.executable, "-m", "playground", "--db", str(tmp_path / "h.db"), "--profile", profile,
                             "compare", "hi", "-m", "fast", "-m", "fast@temperature=1.2", "--json"],
                            capture_output=True, text=True, timeout=120, env=guarded_env())
    assert result.returncode == 0, result.stderr
    first, second = json.loads(result.stdout)["columns"]
    assert first["setup_s"] > 0.5  # the import the old figure counted as the second column's wait
    assert first["waited_s"] == 0 and abs(second["waited_s"] - first["latency_s"]) < 0.3, (first, second)
    # Each column's TTFT is its own, from its own request.
    assert 0 < first["ttft_s"] < first["latency_s"] and 0 < second["ttft_s"] < second["latency_s"] < 1


@pytest.mark.parametrize("model, message", [("fast@temp=1", "unknown setting 'temp'"),
                                            ("fast@temperature=5", "temperature must be a number from 0 to 2")])
def test_a_bad_variant_is_a_one_line_error(args, capsys, model, message):
    code = main(["compare", "hi", "-m", "fast", "-m", model, *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
