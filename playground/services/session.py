"""The composition root: builds the profile, catalog, store, chat and compare services every front end uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from playground.base.paths import default_db_path, resolve_profile
from playground.config.catalog import Catalog, build_catalog
from playground.config.prices import PriceTable, load_prices
from playground.config.profile import ModelSpec, Profile, load_profile
from playground.history.store import Store
from playground.providers import ollama
from playground.services.chat import ChatService
from playground.services.compare import CompareService
from playground.services.routing_state import RoutingState

INTERRUPTED_GRACE_S = 60.0


@dataclass
class Session:
    profile_path: Path
    state: RoutingState
    """What every service routes by; replaced in place, so services never hold a stale copy."""
    store: Store
    chat: ChatService
    compare: CompareService
    prices: PriceTable
    extra_models: dict[str, ModelSpec] = field(default_factory=dict)
    """Models found at run time (Ollama) or named on the command line, kept across profile reloads."""
    incognito: bool = False
    """Chats of this run start incognito: their text is not stored."""

    @property
    def profile(self) -> Profile:
        return self.state.profile

    @property
    def catalog(self) -> Catalog:
        return self.state.catalog

    def _rebuild(self) -> None:
        self.state.catalog = build_catalog(self.profile, extra=self.extra_models, prices=self.prices)

    def refresh_local_models(self, ollama_base: str = ollama.OLLAMA_BASE) -> int:
        """Look for a running Ollama server and offer its models; returns how many were found."""
        found = ollama.discover(ollama_base)
        self.extra_models = {a: s for a, s in self.extra_models.items() if "ollama" not in s.tags} | found
        self._rebuild()
        return len(found)

    def apply_profile(self, profile: Profile) -> None:
        """Switch to a new version of the profile (validated by load_profile) for the next prompt."""
        self.state.apply(profile, build_catalog(profile, extra=self.extra_models, prices=self.prices))

    def build_semantic_index(self) -> int:
        """Embed the profile's semantic utterances (cached on disk after the first time); returns how many
        semantic routes are now active. Until this runs, semantic routes are skipped with a reason."""
        from playground.router.semantic import build_index

        index = build_index(self.profile)
        self.state.semantic = index
        return len(index.routes) if index else 0

    def seed_health(self) -> None:
        """Latency and error estimates, drift and spend start from history rather than from nothing."""
        self.state.health.seed(self.store.recent_attempts())
        self.state.refresh_monitor(self.store)

    def add_model(self, name: str, api_base: str | None = None) -> str:
        """Make `name` (a profile alias or any LiteLLM model string) callable; returns its alias.

        With an explicit api_base no profile key is sent: the user pointed us at a server of their
        choosing, and a provider's key must not leak to it.
        """
        if name in self.catalog and api_base is None:
            return name
        if name in self.catalog:
            base = self.catalog[name].spec
        else:
            # A bare name with an api_base ("llama3.2") means that server's OpenAI-compatible API.
            base = ModelSpec(model=f"openai/{name}" if api_base and "/" not in name else name)
        spec = base.model_copy(update={"api_base": api_base, "key_env": None}) if api_base else base
        alias = name if api_base is None else f"{name}@{api_base}"
        self.extra_models[alias] = spec
        self._rebuild()
        return alias


def open_session(profile: str | None = None, db: str | Path | None = None, incognito: bool = False) -> Session:
    """Raises ProfileError or StoreError with a one-line message."""
    path = resolve_profile(profile)
    loaded = load_profile(path)
    store = Store(Path(db) if db else default_db_path())
    # Replies a killed process left 'streaming': closed once no live process could still be writing them.
    store.finish_interrupted(older_than_s=loaded.timeouts.total + INTERRUPTED_GRACE_S)
    prices = load_prices()
    state = RoutingState.new(loaded, build_catalog(loaded, prices=prices))
    return Session(path, state, store, ChatService(state, store), CompareService(state, store, incognito=incognito),
                   prices, incognito=incognito)
