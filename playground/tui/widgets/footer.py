"""Textual's footer, rebuilt only when the keys it shows change."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    """Textual's footer rebuilds all its keys whenever the bindings may have changed: on every screen switch
    and every focus change, several times over when a screen is shown. Each rebuild mounts a new widget per
    key and restyles it, a third of the time the history screen took to open on a large store. Here it
    rebuilds only when what it would show differs."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._keys_shown: tuple | None = None

    def _keys(self, screen: Screen) -> tuple:
        palette = self.app.COMMAND_PALETTE_BINDING
        return tuple((key, binding.description, binding.action, enabled, tooltip)
                     for key, (_node, binding, enabled, tooltip) in screen.active_bindings.items()
                     if binding.show or key == palette)

    def bindings_changed(self, screen: Screen) -> None:
        keys = self._keys(screen)
        if self._bindings_ready and keys == self._keys_shown:
            return
        super().bindings_changed(screen)
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self._keys_shown = keys  # the rebuild is on its way
