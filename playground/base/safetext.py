"""Making untrusted text (model output, provider errors) safe to store, print and render."""

from __future__ import annotations

import os
import re

# C0 controls except tab and newline, DEL, C1 controls, and bidi overrides: a terminal acts on
# these (ESC/CSI/OSC sequences, title changes, clipboard writes) instead of showing them.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")

_SECRET_PATTERNS = [
    re.compile(r"sk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"AIza[0-9A-Za-z_\-]{20,}"),
    re.compile(r"gsk_[A-Za-z0-9]{10,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]{8,}"),
    re.compile(r"(?i)((?:api[_-]?key|key|token)=)[^&\s\"']+"),
    re.compile(r"(?i)(\"?x-api-key\"?\s*[:=]\s*\"?)[^\s\"',]+"),
]


def clean(text: str) -> str:
    """Drop escape sequences and control characters; keep newlines and tabs."""
    if text.isprintable():  # most streamed pieces: no control or format character at all
        return text
    text = text.replace("\r\n", "\n")
    return _CONTROL.sub("", _ANSI.sub("", text))


def redact(text: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """Hide API keys: the given secret values, then anything shaped like a key."""
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, "[redacted]")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "[redacted]", text)
    return text


def environment_secrets(names: list[str] | set[str]) -> list[str]:
    """The values of the named environment variables that are set."""
    return [os.environ[name] for name in sorted(names) if os.environ.get(name)]


def one_line(text: str, limit: int = 300) -> str:
    """A single line for status bars and error rows."""
    flat = " ".join(clean(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
