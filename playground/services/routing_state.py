"""The routing state every service reads: one object the session updates, instead of copies in each service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from playground.config.catalog import Catalog, build_catalog
from playground.config.profile import Profile
from playground.router.health import HealthTracker

if TYPE_CHECKING:  # the index module pulls in numpy, which start-up does not need
    from playground.router.semantic import SemanticIndex


@dataclass
class RoutingState:
    profile: Profile
    catalog: Catalog
    health: HealthTracker
    semantic: SemanticIndex | None = None
    """The semantic route index, once built (embedding the utterances takes seconds); None skips semantic routes."""

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
