"""The first screen must not wait for LiteLLM: importing the app and the core leaves it unloaded."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import playground.cli.main, playground.tui.app, playground.services.session, playground.router
from playground.services.session import open_session
open_session('default', sys.argv[1])
heavy = sorted(m for m in ('litellm', 'openai', 'llama_cpp', 'tiktoken') if m in sys.modules)
print(','.join(heavy) or 'none')
"""


def test_app_and_core_import_without_litellm(tmp_path):
    result = subprocess.run([sys.executable, "-c", CHECK, str(tmp_path / "h.db")], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "none"


def test_core_does_not_import_textual(tmp_path):
    check = ("import sys; import playground.services.chat, playground.services.session, playground.providers.stream; "
             "print('textual' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
