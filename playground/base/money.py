"""Money in text, one way for every screen, the CLI and the budget messages; JSON keeps exact numbers."""

from __future__ import annotations

from playground.base.records import Cost

SMALLEST_SHOWN_USD = 0.000001


def dollars(value: float | Cost | None) -> str:
    """"$4.60" from a dollar up; below it up to four decimals ("$0.0123", "$0.46"), below a cent up to six
    ("$0.000045"); "$?" when unknown, and a sum with unpriced parts "$0.0123 + unknown" (never "$0")."""
    if isinstance(value, Cost):
        if not value.unknown:
            return dollars(value.known_usd)
        return f"{dollars(value.known_usd)} + unknown" if value.known_usd else "$?"
    if value is None:
        return "$?"
    if value == 0:
        return "$0"
    sign, size = ("-" if value < 0 else ""), abs(value)
    if size < SMALLEST_SHOWN_USD:
        return f"{sign}<${SMALLEST_SHOWN_USD:.6f}"
    if size >= 1:
        return f"{sign}${size:,.2f}"
    whole, _, cents = f"{size:.{4 if size >= 0.01 else 6}f}".partition(".")
    cents = cents.rstrip("0").ljust(2, "0")
    return f"{sign}${whole}.{cents}"
