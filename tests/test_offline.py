"""Nothing but the configured provider is contacted: no price-map download, telemetry or tokenizer fetch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = r"""
import asyncio, socket, sys, textwrap
from pathlib import Path
sys.path.insert(0, sys.argv[2])
outside = []
real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

def is_loopback(host):
    return str(host) in ("localhost", "::1") or str(host).startswith("127.")

def connect(self, address):
    if isinstance(address, tuple) and not is_loopback(address[0]):
        outside.append(address[0])
        raise OSError("network blocked by test")
    return real_connect(self, address)

def getaddrinfo(host, *args, **kwargs):
    if host is not None and not is_loopback(host):
        outside.append(host)
        raise socket.gaierror("network blocked by test")
    return real_getaddrinfo(host, *args, **kwargs)

socket.socket.connect, socket.getaddrinfo = connect, getaddrinfo

from support.openai_server import OpenAIStubServer
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
print("outside", sorted(set(outside)))
"""


def test_a_turn_contacts_only_loopback(tmp_path):
    tests_dir = Path(__file__).parent
    env_home = tmp_path / "home"
    env_home.mkdir()
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(env_home), str(tests_dir)],
                            capture_output=True, text=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(env_home), "PLAYGROUND_HOME": str(env_home)})
    assert result.returncode == 0, result.stderr[-2000:]
    # Counting tokens (the stub sent no usage) needed tiktoken's files: they came from disk.
    assert "status complete estimated True" in result.stdout
    assert "outside []" in result.stdout, result.stdout
