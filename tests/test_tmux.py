"""The installed app in a real terminal: tmux at 80x24 and 120x40, answered by the loopback test server.

Pilot drives the app inside the test process and sees neither the start-up race (a prompt typed before
LiteLLM is loaded) nor what the app leaves behind in the terminal (alternate screen, mouse reporting).
These tests run `playground` as a person does, read the screen with `capture-pane`, and check the
terminal's modes after the app has exited.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.support.helpers import guarded_env, write_profile

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None,
                                reason="tmux is not installed (Debian: apt-get install tmux); "
                                       "these tests drive the app in a real terminal")

PLAYGROUND = Path(sys.executable).with_name("playground")
ENDLESS_IMPORT = Path(__file__).parent / "support" / "endless_import"
SIZES = [(80, 24), (120, 40)]


class Terminal:
    """One tmux session on a private server socket running one command; the pane stays after it exits."""

    def __init__(self, width: int, height: int, socket: Path) -> None:
        self.width, self.height = width, height
        self.socket = socket
        self.name = f"pg-{uuid.uuid4().hex[:8]}"

    def tmux(self, *args: str, check: bool = True) -> str:
        return subprocess.run(["tmux", "-S", str(self.socket), *args], capture_output=True, text=True,
                              check=check).stdout

    def start(self, argv: list[str], env: dict[str, str]) -> None:
        exports = " ".join(f"{key}={_quote(value)}" for key, value in env.items()
                           if key.startswith(("PLAYGROUND", "PYTHON", "LITELLM", "PATH", "HOME", "TERM")))
        command = f"env -i {exports} {' '.join(map(_quote, argv))}; echo \"[exit $?]\"; sleep 600"
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", self.name, "-x", str(self.width),
                  "-y", str(self.height), command)
        self.tmux("set-option", "-t", self.name, "remain-on-exit", "on")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-t", self.name, "-p")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.name, *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", self.name, "-l", text)

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            shown = self.screen()
            if text in shown:
                return shown
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not on screen after {timeout}s; the screen was:\n{shown}")

    def wait_gone(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        shown = self.screen()
        while text in shown:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} still on screen after {timeout}s; the screen was:\n{shown}")
            time.sleep(0.1)
            shown = self.screen()
        return shown

    def modes(self) -> dict[str, str]:
        """The pane's terminal modes: alternate screen, mouse reporting (any kind)."""
        fields = {"alternate": "#{alternate_on}", "mouse": "#{mouse_any_flag}#{mouse_button_flag}"
                  "#{mouse_standard_flag}#{mouse_all_flag}#{mouse_sgr_flag}"}
        return {name: self.tmux("display-message", "-p", "-t", self.name, spec).strip()
                for name, spec in fields.items()}

    def close(self) -> None:
        self.tmux("kill-server", check=False)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


@pytest.fixture
def terminal(tmp_path_factory):
    made: list[Terminal] = []
    # A short socket path: tmux refuses socket paths longer than a sockaddr_un holds.
    folder = Path(f"/tmp/pg-tmux-{uuid.uuid4().hex[:8]}")
    folder.mkdir()

    def make(width: int, height: int) -> Terminal:
        made.append(Terminal(width, height, folder / f"s{len(made)}"))
        return made[-1]

    yield make
    for term in made:
        term.close()
    shutil.rmtree(folder, ignore_errors=True)


def _app_env(home: Path) -> dict[str, str]:
    env = guarded_env()
    env.pop("TMUX", None)
    env.update(PLAYGROUND_HOME=str(home), TERM="xterm-256color", HOME=str(home))
    return env


def _assert_restored(term: Terminal, timeout: float = 30.0) -> None:
    """A deadline, not a measurement: returns as soon as the app has exited."""
    term.wait_for("[exit 0]", timeout)
    shown = term.screen()
    assert "Traceback" not in shown and "Exception" not in shown, shown
    modes = term.modes()
    assert modes["alternate"] == "0", f"still in the alternate screen: {modes}"
    assert set(modes["mouse"]) <= {"0"}, f"mouse reporting left on: {modes}"


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_prompt_typed_before_ready_is_answered_and_quit_restores_terminal(terminal, tmp_path, server, width,
                                                                          height):
    server.script("stub", text="Hello from the loopback server.")
    profile = write_profile(tmp_path, server.api_base, ["stub"])
    term = terminal(width, height)
    term.start([str(PLAYGROUND), "--profile", str(profile)], _app_env(tmp_path / "home"))
    term.wait_for("Ask anything", 20)
    assert "loading LiteLLM" in term.screen(), "the engine was ready before the test could type: no race"
    term.type("Say hello")
    term.keys("Enter")
    term.wait_for("waiting for LiteLLM", 5)
    shown = term.wait_for("Hello from the loopback server.", 60)
    term.wait_for("TTFT", 10)
    assert "Say hello" in shown
    # Help opens, Esc closes it, typing reaches the prompt box again.
    term.keys("F1")
    term.wait_for("Keys", 10)
    term.keys("Escape")
    term.wait_gone("Keys", 10)
    term.type("second")
    term.wait_for("second", 5)
    term.keys("C-q")
    _assert_restored(term)


def test_a_prompt_typed_the_instant_the_app_starts_is_kept_and_answered(terminal, tmp_path, server):
    """Typed before the first paint, while the terminal is still in cooked mode (Enter arrives as a line feed)."""
    server.script("stub", text="Hello from the loopback server.")
    profile = write_profile(tmp_path, server.api_base, ["stub"])
    term = terminal(80, 24)
    term.start([str(PLAYGROUND), "--profile", str(profile)], _app_env(tmp_path / "home"))
    term.type("Say hello")
    term.keys("Enter")
    shown = term.wait_for("Hello from the loopback server.", 60)
    assert "Say hello" in shown
    term.keys("C-q")
    _assert_restored(term)


@pytest.mark.parametrize(("width", "height"), SIZES[:1])
def test_quit_while_loading_restores_terminal(terminal, tmp_path, server, width, height):
    """LiteLLM's import here never finishes (tests/support/endless_import), so the quit always lands while
    it loads, however loaded the machine; an exit that waited for the import would never come. (A fixed
    bound on the real import's time failed under load.)"""
    profile = write_profile(tmp_path, server.api_base, ["stub"])
    started = tmp_path / "import-started"
    env = _app_env(tmp_path / "home")
    env.update(PYTHONPATH=os.pathsep.join([env["PYTHONPATH"], str(ENDLESS_IMPORT)]),
               PLAYGROUND_TEST_IMPORT_STARTED=str(started))
    term = terminal(width, height)
    term.start([str(PLAYGROUND), "--profile", str(profile)], env)
    term.wait_for("Ask anything", 60)
    deadline = time.monotonic() + 60
    while not started.exists():
        assert time.monotonic() < deadline, "the app never began to import LiteLLM"
        time.sleep(0.05)
    assert "loading LiteLLM" in term.screen()
    term.keys("C-q")
    _assert_restored(term)


def _local_model_problem() -> str | None:
    """Why the embedded model cannot stream here (not installed, or its llama.cpp build crashes)."""
    from playground.config import local_model

    problem = local_model.runtime_problem()
    if problem is not None:
        return problem
    probe = ("import threading\nfrom playground.providers.local import LocalModel\n"
             "model = LocalModel()\n"
             "list(model.generate([{'role': 'user', 'content': 'hi'}], 4, 0.2, threading.Event()))\n"
             "model.close()\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        return f"the local model's llama.cpp build fails here (exit {done.returncode}): {done.stderr[-200:]}"
    return None


def test_quit_while_the_local_model_streams_is_quick_and_silent(terminal, tmp_path):
    problem = _local_model_problem()
    if problem is not None:
        pytest.skip(problem)
    term = terminal(120, 40)
    term.start([str(PLAYGROUND), "--profile", "local-only"], _app_env(tmp_path / "home"))
    term.wait_for("· ready", 120)
    term.type("Write a long story about a lighthouse keeper, in many paragraphs.")
    term.keys("Enter")
    term.wait_for("streaming", 30)
    time.sleep(1.0)  # well into the reply
    started = time.monotonic()
    term.keys("C-q")
    _assert_restored(term, 10)
    took = time.monotonic() - started
    assert took < 1.5, f"quitting took {took:.1f} s"  # < 1 s in the app, plus tmux's polling here


def test_keys_sent_in_one_burst_with_a_control_key_all_arrive(terminal, tmp_path, server):
    """tmux writes `C-u hello` in one read. Textual runs a binding (Ctrl+U: delete to the line's start) only
    when the key has bubbled back to the app, after the letters behind it were typed: they were deleted.
    The same burst with Tab in the settings dialog typed the next field's text into the first one."""
    profile = write_profile(tmp_path, server.api_base, ["stub"])
    term = terminal(80, 24)
    term.start([str(PLAYGROUND), "--profile", str(profile)], _app_env(tmp_path / "home"))
    term.wait_for("· ready", 60)
    term.keys("C-s")
    term.wait_for("System prompt", 10)
    term.keys("be brief", "Tab", "0.5", "Enter")
    shown = term.wait_for("Next turns", 5)
    assert "temperature 0.5" in shown, shown
    for _ in range(3):  # a race: one pass can be lucky
        term.type("draft")
        term.wait_for("draft", 5)
        term.keys("C-u", "hello")
        shown = term.wait_for("hello", 5)
        assert "draft" not in shown, shown
        term.keys("C-u")
        term.wait_for("Ask anything", 5)
    term.keys("C-q")
    _assert_restored(term)
