"""What the chat looks like for the half second the history store and the profile take to open.

The chat screen needs them (the profile's models, the day's spend), and their imports (pydantic,
sqlite-utils, numpy) cost more than Textual itself. This screen imports nothing of ours beyond the
prompt box, so it paints as fast as a bare Textual app; what is typed here is handed to the chat.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from playground.tui.widgets.footer import Footer
from playground.tui.widgets.prompt_input import PromptInput


class StartingScreen(Screen):
    DEFAULT_CSS = """
    StartingScreen #welcome { color: $text-muted; padding: 1 1; }
    StartingScreen #transcript { height: 1fr; }
    StartingScreen #prompt { margin: 0 1; }
    StartingScreen #status { height: 1; padding: 0 1; background: $panel; }
    """
    BINDINGS = [Binding("ctrl+q", "app.quit", "Quit", id="app.quit")]

    def __init__(self, profile_name: str) -> None:
        super().__init__()
        self.profile_name = profile_name
        self.submitted: list[str] = []
        """Prompts sent before the chat was ready: the chat sends them as soon as it can."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="transcript"):
            yield Static(Text(f"Profile {self.profile_name}\nopening the profile and history…"), id="welcome")
        yield PromptInput(id="prompt", placeholder="Ask anything · Enter sends · Ctrl+J new line")
        yield Static(Text(f" {self.profile_name}  · opening history… · loading LiteLLM…"), id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(PromptInput).focus()
        release = getattr(self.app, "release_early_input", None)
        if release is not None:
            self.call_after_refresh(release, cooked=True)

    def on_prompt_input_submitted(self, message: PromptInput.Submitted) -> None:
        self.submitted.append(message.text)
        box = self.query_one(PromptInput)
        box.clear()
        self.query_one("#welcome", Static).update(
            Text(f"Profile {self.profile_name}\nopening the profile and history… "
                 f"{len(self.submitted)} prompt(s) will be sent as soon as it is open."))

    @property
    def draft(self) -> str:
        return self.query_one(PromptInput).text
