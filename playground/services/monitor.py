"""Drift and spend read from history, kept ready for the router: refreshed after a turn or a comparison,
on a worker thread, and read from memory when a prompt is routed (no SQL on the way to the first token)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from datetime import datetime

from playground.config.profile import Profile
from playground.history import queries
from playground.history.store import Store
from playground.router import budget as budgets
from playground.router import drift as drifts
from playground.router.budget import BudgetStatus, Spend, SpendSnapshot
from playground.router.drift import Judgement, ModelDrift, Observation
from playground.router.health import NOT_THE_MODELS_FAULT

_EXCLUDED = sorted(failure.value for failure in NOT_THE_MODELS_FAULT)


def _epoch(stored: str) -> float:
    return datetime.fromisoformat(stored).timestamp()


def _observation(row) -> Observation:
    ttft, latency, tokens = row["ttft_ms"], row["latency_ms"], row["output_tokens"]
    speed = tokens / ((latency - (ttft or 0.0)) / 1000) if tokens and latency and latency > (ttft or 0.0) else None
    return Observation(_epoch(row["started_at"]), row["failure"] is not None,
                       None if ttft is None else ttft / 1000, speed)


def read_drift(store: Store, aliases: Iterable[str], now: float | None = None) -> dict[str, ModelDrift]:
    """Each model's drift assessment from its latest attempts and judgements."""
    now = time.time() if now is None else now
    judged: dict[str, list[Judgement]] = {}
    for row in store.read(queries.latest_judgements, drifts.QUALITY_RECENT + drifts.QUALITY_BASELINE):
        judged.setdefault(row["model"], []).append(Judgement(_epoch(row["at"]), bool(row["good"])))
    found = {}
    for alias in aliases:
        rows = store.read(queries.latest_attempts, alias, _EXCLUDED, drifts.RECENT + drifts.BASELINE)
        found[alias] = drifts.assess(alias, [_observation(row) for row in rows], judged.get(alias, []), now)
    return found


def read_spend(store: Store, profile: Profile, now: datetime | None = None) -> SpendSnapshot:
    """The spend per model today and this month, on the local calendar, under the budget's scope: this
    profile's conversations, or every conversation in the store."""
    local = (now or datetime.now()).astimezone()
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)
    everything = profile.budget is not None and profile.budget.scope == "all"
    rows = store.read(queries.spend_by_model, None if everything else profile.name, month, day)
    return SpendSnapshot(day={r["model_alias"]: Spend(r["day_usd"], r["day_unpriced"]) for r in rows},
                         month={r["model_alias"]: Spend(r["month_usd"], r["month_unpriced"]) for r in rows})


class Monitor:
    """The latest drift and spend figures. `refresh` runs on a worker thread; readers get the last result."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._drift: dict[str, ModelDrift] = {}
        self._spend: tuple[tuple[str, str], SpendSnapshot] = (("", ""), SpendSnapshot())
        """The spend, and what it was read for: the profile's name and the budget's scope."""

    def refresh(self, store: Store, profile: Profile, aliases: Iterable[str], *, drift: bool = True) -> None:
        """Re-read the profile's spend (and every model's drift, unless `drift` is False) from history."""
        spend = read_spend(store, profile) if profile.budget else SpendSnapshot()
        found = read_drift(store, aliases) if drift else None
        with self._lock:
            self._spend = (_counted(profile), spend)
            if found is not None:
                self._drift = found

    def drift(self) -> Mapping[str, ModelDrift]:
        with self._lock:
            return dict(self._drift)

    def budget(self, profile: Profile) -> BudgetStatus:
        """The profile's limits against its spend at the last refresh (none read yet for a profile just
        switched to: its spend counts from the next refresh, a worker's moment later)."""
        with self._lock:
            counted, spend = self._spend
        return budgets.assess(profile.budget, spend if counted == _counted(profile) else SpendSnapshot())


def _counted(profile: Profile) -> tuple[str, str]:
    return profile.name, profile.budget.scope if profile.budget is not None else ""
