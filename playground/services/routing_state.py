"""The routing state every service reads: one object the session updates, instead of copies in each service."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from playground.config.catalog import Catalog, build_catalog
from playground.config.profile import Profile
from playground.router.health import HealthTracker
from playground.services.monitor import Monitor

if TYPE_CHECKING:  # the index module pulls in numpy, which start-up does not need
    from playground.history.store import Store
    from playground.router.semantic import AnyIndex


@dataclass
class RoutingState:
    profile: Profile
    catalog: Catalog
    health: HealthTracker
    semantic: AnyIndex | None = None
    """The semantic route index, once built (embedding the utterances takes seconds); None skips semantic routes."""
    monitor: Monitor = field(default_factory=Monitor)
    """Drift and spend from history, refreshed off the routing path."""

    def refresh_monitor(self, store: Store, *, drift: bool = True) -> None:
        """Re-read drift and spend from history (blocking: call it from a worker thread)."""
        self.monitor.refresh(store, self.profile, list(self.catalog.models), drift=drift)

    @classmethod
    def new(cls, profile: Profile, catalog: Catalog | None = None) -> RoutingState:
        """Fresh health; the profile's own models priced from the local map unless a catalog is given."""
        return cls(profile, catalog if catalog is not None else build_catalog(profile), HealthTracker(profile.cooldown))

    def apply(self, profile: Profile, catalog: Catalog) -> None:
        """The next prompt routes by this profile. Learned health carries over; the semantic index is rebuilt by the
        session, which owns the encoder."""
        self.profile = profile
        self.catalog = catalog
        self.health.cooldown = profile.cooldown
