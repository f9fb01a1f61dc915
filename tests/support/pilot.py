"""Waiting in Pilot tests for what the screen should come to show."""

from __future__ import annotations


async def wait_for(pilot, condition, timeout: float = 10.0) -> None:
    """Poll `condition` every 50 ms of app time; fail the test if it never holds."""
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not met in time")
