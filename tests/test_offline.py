"""Nothing but the configured provider is contacted: no price-map download, telemetry or tokenizer fetch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.helpers import NETGUARD_DIR

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import asyncio, sys, textwrap
from pathlib import Path

from tests.support.openai_server import OpenAIStubServer
from playground.services.session import open_session
from playground.services.events import ReplyDone

home = Path(sys.argv[1])
with OpenAIStubServer() as server:
    server.script("offline", text="all local", send_usage=False)
    profile = home / "p.yaml"
    profile.write_text(textwrap.dedent(f'''
        name: offline
        models:
          m: {{model: openai/offline, api_base: "{server.api_base}"}}
        tiers: {{t: [m]}}
        routes: [{{name: all, tier: t}}]
    '''))
    session = open_session(str(profile), home / "h.db")
    async def run():
        async for event in session.chat.send("hello offline world"):
            if isinstance(event, ReplyDone):
                return event.reply
    reply = asyncio.run(run())
print("status", reply.status, "estimated", reply.final.tokens_estimated)
"""


def test_a_turn_contacts_only_loopback(tmp_path):
    env_home = tmp_path / "home"
    env_home.mkdir()
    netlog = tmp_path / "net.log"
    # A bare environment on purpose (no LITELLM_LOCAL_MODEL_COST_MAP): the product must stay offline by itself.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(env_home), "PLAYGROUND_HOME": str(env_home),
           "PYTHONPATH": os.pathsep.join([str(NETGUARD_DIR), str(ROOT)]), "PLAYGROUND_TEST_NETLOG": str(netlog)}
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(env_home)], capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    # Counting tokens (the stub sent no usage) needed tiktoken's files: they came from disk.
    assert "status complete estimated True" in result.stdout
    outside = sorted(set(netlog.read_text().split())) if netlog.exists() else []
    assert outside == [], outside
