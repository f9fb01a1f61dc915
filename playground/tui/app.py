"""The Textual app: paints at once, then loads LiteLLM and local models in a background thread.

App-level state (is the engine ready, which profile routes, the theme) lives here, not in a screen:
background results are published on signals, so a screen underneath history, stats or a dialog still
hears them, and a screen shown later reads the current state.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.signal import Signal

from playground.tui import collect, preferences
from playground.tui.messages import EngineFailed, EngineReady, ProfileChanged, ProfileInvalid

if TYPE_CHECKING:
    from playground.base.records import Cost
    from playground.services.session import Session

# Everything that needs the session (the chat and every other screen, the store, pydantic) is imported
# after the first paint: run_tui paints a starting screen while a thread opens the session.

PROFILE_POLL_S = 1.0
SPEND_POLL_S = 15.0
"""How often today's spend (and a budget's, when the profile has one) is re-read: other processes
(`playground ask`, another window) spend from the same history, and a new day starts with nothing spent."""
KEY_SETTLE_LIMIT_S = 0.25
"""How long the next key waits for the one before it to be handled, if its probe got lost on the way
(the widget it went to was removed)."""


class KeyHandled(Message):
    """Posted behind a key to the widget the key went to: it bubbles the way the key does, so when it
    reaches the app, the key has been handled, bindings included."""


class PlaygroundApp(App):
    TITLE = "LLM routing playground"
    BINDINGS = [
        Binding("f3", "show_history", "History", id="app.history"),
        Binding("f4", "show_stats", "Stats", id="app.stats"),
        # Shown in help (F1) and the command palette; the footer is full. F6/F7 select text in the prompt box.
        Binding("f12", "experiments", "Experiments", id="app.experiments", show=False),
        Binding("f8", "leaderboard", "Leaderboard", id="app.leaderboard"),
        # F1 opens the terminal's own help in GNOME Terminal and others: Ctrl+/ (sent as Ctrl+_) too.
        Binding("f1,ctrl+underscore", "help", "Help", id="app.help"),
    ]

    def __init__(self, session: Session | None = None, *, load_engine: bool = True,
                 opener: Callable[[], Session] | None = None, profile_name: str = "") -> None:
        """Give an open `session`, or an `opener` to call in the background after the first paint."""
        super().__init__()
        self.session = session
        self._opener = opener
        self._profile_name = profile_name
        self._load_engine = load_engine
        self._profile_stamp = self._stamp()
        self.startup_error = ""
        self._last_input = time.monotonic()
        self._early_input: list[events.Key | events.Paste] | None = [] if session is None else None
        """What the terminal delivered before the first screen had a prompt box: typed as soon as it has one."""
        self._held_input: list[events.Key | events.Paste] = []
        """Keys (and pastes) that came in while the key before them was still being handled."""
        self._key_in_flight: KeyHandled | None = None
        self._key_sent_at = 0.0
        self.engine: EngineReady | EngineFailed | None = None
        """None while LiteLLM loads; prompts sent before then wait for it."""
        self.engine_signal: Signal[EngineReady | EngineFailed] = Signal(self, "engine")
        self.profile_signal: Signal[ProfileChanged | ProfileInvalid] = Signal(self, "profile")
        self.spend_signal: Signal[Cost] = Signal(self, "spend")
        """Today's spend in the whole history, re-read every SPEND_POLL_S: other processes spend too."""
        self._spent_today: Cost | None = None
        # Read once: the file is written by this process only (when the theme changes).
        theme = preferences.load().get("theme")
        if isinstance(theme, str) and theme in self.available_themes:
            self.theme = theme

    def on_mount(self) -> None:
        if self.session is None:
            from playground.tui.screens.starting import StartingScreen

            self.push_screen(StartingScreen(self._profile_name))
            # After the first paint: the thread's imports would otherwise take the GIL from it.
            opening = threading.Thread(target=self._open, name="session-open", daemon=True)
            self.call_after_refresh(opening.start)
        else:
            self._start()
        self.set_interval(PROFILE_POLL_S, self._check_profile)
        self.set_interval(SPEND_POLL_S, self._poll_spend)
        collect.defer_full_collections()
        self.theme_changed_signal.subscribe(self, lambda theme: self._remember_theme(theme.name))
        self.set_interval(collect.IDLE_BEFORE_COLLECTING_S, lambda: collect.collect_if_idle(self._last_input))

    def _open(self) -> None:
        from playground.config.profile import ProfileError
        from playground.history.store import StoreError
        from playground.tui.screens import chat  # noqa: F401  (its imports, off the event loop)

        assert self._opener is not None
        try:
            session = self._opener()
        except (ProfileError, StoreError) as exc:  # one line, printed once the terminal is restored
            self.startup_error = f"playground: error: {exc}"
            self._from_thread(self.exit, None, 2)
            return
        self._from_thread(self._opened, session)

    def _opened(self, session: Session) -> None:
        self.session = session
        self._profile_stamp = self._stamp()
        self._start()

    def _start(self) -> None:
        """The session is open: the chat replaces the starting screen, with whatever was typed there."""
        from playground.tui.screens.chat import ChatScreen
        from playground.tui.screens.starting import StartingScreen
        from playground.tui.widgets.prompt_input import PromptInput

        assert self.session is not None
        if isinstance(starting := self.screen, StartingScreen):
            # Keys from now on wait for the chat's prompt box (it replays them once it has focus), and the
            # key still in the starting box's queue lands before its text is taken: in a burst typed
            # during the switch, a letter or the Enter used to go to the box being thrown away.
            self._early_input, self._held_input, self._key_in_flight = list(self._held_input), [], None
            starting.query_one(PromptInput).call_later(self._replace_starting, starting)
        else:
            self.push_screen(ChatScreen(self.session))
        if self._load_engine:
            # A daemon thread, not a worker: quitting while LiteLLM imports (seconds) must not wait for it.
            threading.Thread(target=self._load, name="engine-load", daemon=True).start()
        else:
            self.engine = EngineReady(0, 0.0)  # the first request loads LiteLLM itself

    def _replace_starting(self, starting: Screen) -> None:
        """Run from the starting box's queue, after the last key it was given. Not awaited: the box whose
        queue runs this is removed by the switch."""
        from playground.tui.screens.chat import ChatScreen
        from playground.tui.screens.starting import StartingScreen

        assert self.session is not None and isinstance(starting, StartingScreen)
        self.switch_screen(ChatScreen(self.session, draft=starting.draft, pending=starting.submitted))

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown, events.Paste)):
            self._last_input = time.monotonic()
        if self._early_input is not None and isinstance(event, (events.Key, events.Paste)):
            self._early_input.append(event)
            return
        if isinstance(event, (events.Key, events.Paste)) and not event.is_forwarded:
            if self._key_in_flight is not None:
                if not self._held_input:  # a timer only when a key waits: none on the usual path
                    left = KEY_SETTLE_LIMIT_S - (time.monotonic() - self._key_sent_at)
                    settle = partial(self._key_settled, self._key_in_flight)
                    # Past the limit already: now (a Textual timer of 0 s raises ZeroDivisionError in its
                    # task, and the key stayed held until the one before it came back, if ever).
                    if left > 0:
                        self.set_timer(left, settle)
                    else:
                        self.call_next(settle)
                self._held_input.append(event)
                return
            await self._dispatch_input(event)
            return
        await super().on_event(event)

    async def _dispatch_input(self, event: events.Key | events.Paste) -> None:
        """One key at a time: Textual runs a widget's bindings only once the key has bubbled back up to
        the app, while the keys behind it already went straight to the focused widget. In one burst
        (`Ctrl+U hello` from tmux, a paste of text and Tab) Ctrl+U then deleted the letters typed after it,
        and Tab moved focus after the text meant for the next field had gone into this one."""
        target = self.focused or self.screen
        await super().on_event(event)
        probe = KeyHandled()
        if target.post_message(probe):
            self._key_in_flight, self._key_sent_at = probe, time.monotonic()

    async def on_key_handled(self, message: KeyHandled) -> None:
        await self._key_settled(message)

    async def _key_settled(self, probe: KeyHandled | None) -> None:
        if probe is not self._key_in_flight:
            return
        self._key_in_flight = None
        while self._held_input and self._key_in_flight is None:
            await self._dispatch_input(self._held_input.pop(0))
        if self._held_input:  # the next key is in flight with more behind it: it gets its own time limit
            self.set_timer(KEY_SETTLE_LIMIT_S, partial(self._key_settled, self._key_in_flight))

    def release_early_input(self, *, cooked: bool = False) -> None:
        """Replay keys and pastes that arrived before a prompt box had focus: before the first paint
        (`cooked`: the terminal was not yet in raw mode) or while the chat replaced the starting screen."""
        early, self._early_input = self._early_input or [], None
        for event in early:
            if isinstance(event, events.Paste):
                self.post_message(events.Paste(event.text))
            elif cooked and event.key in ("ctrl+j", "newline"):
                # Typed while the terminal was still in cooked mode, Enter arrives as a line feed.
                self.post_message(events.Key("enter", "\r"))
            else:
                self.post_message(events.Key(event.key, event.character))

    @work(thread=True, group="preferences", exit_on_error=False)
    def _remember_theme(self, name: str) -> None:
        preferences.save({"theme": name})

    def action_help(self) -> None:
        from playground.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's own commands (themes, keys, quit), then every action bound on the current screen."""
        yield from super().get_system_commands(screen)
        seen = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            if active.node not in (screen, self) or not binding.description or binding.action in seen \
                    or binding.action == "app.quit":
                continue
            seen.add(binding.action)
            yield SystemCommand(f"{binding.description} ({self.get_key_display(binding)})",
                                binding.tooltip or binding.description,
                                partial(self.run_action, binding.action, active.node))

    def _stamp(self) -> tuple[int, int] | None:
        if self.session is None:
            return None
        try:
            stat = self.session.profile_path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    @work(thread=True, exclusive=True, group="profile", exit_on_error=False)
    def _check_profile(self) -> None:
        from playground.config.profile import ProfileError, load_profile

        stamp = self._stamp()
        if stamp is None or self._profile_stamp is None or stamp == self._profile_stamp:
            return
        self._profile_stamp = stamp
        try:
            profile = load_profile(self.session.profile_path)
        except ProfileError as exc:
            self._publish(ProfileInvalid(str(exc)))
            return
        self._publish(ProfileChanged(profile))

    def switch_profile(self, path: Path) -> None:
        """Route with the profile at `path` from the next prompt on (F10); the result is published."""
        self._switch_profile(path)

    @work(thread=True, exclusive=True, group="profile-switch", exit_on_error=False)
    def _switch_profile(self, path: Path) -> None:
        from playground.config.profile import ProfileError, load_profile

        try:
            profile = load_profile(path)
        except ProfileError as exc:
            self._publish(ProfileInvalid(str(exc)))
            return
        self.session.profile_path = path
        self._profile_stamp = self._stamp()
        self._publish(ProfileChanged(profile))

    def action_leaderboard(self) -> None:
        from playground.tui.screens.leaderboard import LeaderboardScreen

        if self.session is not None and not isinstance(self.screen, LeaderboardScreen):
            self.push_screen(LeaderboardScreen(self.session))

    def action_experiments(self) -> None:
        from playground.tui.screens.experiments import ExperimentsScreen

        if self.session is not None and not isinstance(self.screen, ExperimentsScreen):
            self.push_screen(ExperimentsScreen(self.session))

    def _load(self) -> None:
        from playground.base import tokens
        from playground.config import local_model
        from playground.providers import engine
        from playground.router.embeddings import EmbeddingError
        from playground.tui.widgets import markdown_view

        try:
            engine.load()
            found = self.session.refresh_local_models()
            self.session.seed_health()
            note = ""
            try:
                self.session.build_semantic_index()
            except EmbeddingError as exc:  # the rest of the router still works; say what is missing
                note = f"semantic routes off: {exc}"
            tokens.count_text("warm up")
            markdown_view.warm_up()
            if local_model.runtime_problem() is None:
                engine.warm_local_model()
            day_cost = self.session.store.today_cost()
        except Exception as exc:  # shown in the status bar; the app stays usable for reading history
            self._publish(EngineFailed(f"{type(exc).__name__}: {exc}"))
            return
        self._publish(EngineReady(found, day_cost, note))

    def _publish(self, state: EngineReady | EngineFailed | ProfileChanged | ProfileInvalid) -> None:
        """From a background thread: record the new state, then tell every screen that subscribed."""
        if not self.is_running:
            return  # quitting: nobody is left to tell
        self._from_thread(self._apply, state)

    def _from_thread(self, callback: Callable[..., object], *args: object) -> None:
        """Run `callback` on the event loop from one of the app's own threads, unless the app is closing: its
        loop may close before the call (RuntimeError) or while it waits (the call is cancelled). Either way
        nobody is left to tell, and a traceback would follow the restored terminal."""
        with contextlib.suppress(RuntimeError, concurrent.futures.CancelledError):
            self.call_from_thread(callback, *args)

    def _apply(self, state: EngineReady | EngineFailed | ProfileChanged | ProfileInvalid) -> None:
        if isinstance(state, (EngineReady, EngineFailed)):
            self.engine = state
            self.engine_signal.publish(state)
            return
        if isinstance(state, ProfileChanged):
            self.session.apply_profile(state.profile)
            self._rebuild_semantic()
            self._refresh_monitor()
            self.notify(f"Routing with profile {state.profile.name}", timeout=3, markup=False)
        self.profile_signal.publish(state)

    @work(thread=True, group="semantic", exclusive=True, exit_on_error=False)
    def _rebuild_semantic(self) -> None:
        # Embedding new utterances takes a moment; until it is done, semantic routes are skipped and say so.
        self.session.state.semantic = None
        self.session.build_semantic_index()

    def _poll_spend(self) -> None:
        if self.session is not None:
            self._refresh_spend()

    @work(thread=True, group="spend", exclusive=True, exit_on_error=False)
    def _refresh_spend(self) -> None:
        if self.session.profile.budget is not None:
            self.session.state.refresh_monitor(self.session.store, drift=False)
        today = self.session.store.today_cost()
        if today != self._spent_today and self.is_running:
            self._spent_today = today
            self._from_thread(self.spend_signal.publish, today)

    @work(thread=True, group="monitor", exclusive=True, exit_on_error=False)
    def _refresh_monitor(self) -> None:
        # Another profile may have another budget and name: its spend is read off the event loop.
        self.session.state.refresh_monitor(self.session.store)

    # History and stats: pushed over the chat, which keeps its state underneath -------------------

    def action_show_history(self) -> None:
        from playground.tui.screens.history import HistoryScreen

        if self._back_to_chat(HistoryScreen):
            if not self.is_screen_installed("history"):
                self.install_screen(HistoryScreen(self.session.store), "history")  # kept: it reloads when shown
            self.push_screen("history", self._open_conversation)

    def action_show_stats(self) -> None:
        from playground.tui.screens.stats import StatsScreen

        if self._back_to_chat(StatsScreen):
            self.push_screen(StatsScreen(self.session))

    def _back_to_chat(self, wanted: type[Screen]) -> bool:
        """Pop history or stats (not a dialog) down to the chat; False if `wanted` is already shown."""
        from playground.tui.screens.chat import ChatScreen

        if self.session is None or isinstance(self.screen, wanted) or self.screen.is_modal:
            return False
        while not isinstance(self.screen, ChatScreen) and len(self.screen_stack) > 1:
            self.pop_screen()
        return isinstance(self.screen, ChatScreen)

    def _open_conversation(self, conversation_id: str | None) -> None:
        from playground.tui.screens.chat import ChatScreen

        if conversation_id is not None and isinstance(self.screen, ChatScreen):
            self.screen.open_conversation(conversation_id)


def run_tui(profile: str | None = None, db: str | None = None, incognito: bool = False) -> int:
    from playground.base.paths import missing_profile, resolve_profile

    def opener() -> Session:
        from playground.services.session import open_session

        return open_session(profile, db, incognito=incognito)

    path = resolve_profile(profile)
    if (problem := missing_profile(path)) is not None:  # before the screen opens, not after
        print(f"playground: error: {problem}", file=sys.stderr)
        return 2
    app = PlaygroundApp(opener=opener, profile_name=_profile_name(path))
    try:
        app.run()
    finally:
        if app.session is not None:
            app.session.store.close()
    if app.startup_error:
        print(app.startup_error, file=sys.stderr)
    return app.return_code or 0


def _profile_name(path: Path) -> str:
    """The name the profile gives itself, read without validating it (the session validates it)."""
    import yaml

    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, ValueError, yaml.YAMLError):
        return path.stem
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else path.stem
