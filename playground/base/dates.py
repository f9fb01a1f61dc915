"""Dates the user types: since when a listing or the stats should count."""

from __future__ import annotations

import re
from datetime import datetime, timedelta


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """A local date (2025-03-01), an ISO date-time, or a number of days back (7d; 0d is today).
    Raises ValueError with a message fit for the user."""
    now = now or datetime.now().astimezone()
    if match := re.fullmatch(r"(\d+)d", text.strip()):
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight - timedelta(days=int(match[1]))
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--since: expected a date like 2025-03-01 or a number of days like 7d, not {text!r}") \
            from None
    return moment if moment.tzinfo else moment.astimezone()
