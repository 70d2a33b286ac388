"""Provides the command palette (ctrl+p): every binding of the app, the screen and its panes, as commands.

The commands are derived from the BINDINGS of Rapport's own classes (so a new key is in the palette
without a second list), plus the app's `PALETTE` entries for actions that have no key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import Screen
from textual.widget import Widget

from rapport.tui.app.safe import clean

if TYPE_CHECKING:
    from textual.app import App
    from textual.dom import DOMNode

# Cursor movement is what the keys are for; as palette commands they would only be noise.
NAVIGATION = frozenset({"cursor_down", "cursor_up", "page_down", "page_up", "first", "last",
                        "scroll('down')", "scroll('up')", "command_palette"})


@dataclass(frozen=True)
class PaletteCommand:
    """One palette entry: `action` run on `node` (the app, the screen or one of its panes)."""

    label: str
    help: str
    node: Widget | App[Any]
    action: str


def _own_bindings(node: DOMNode) -> list[Binding]:
    """The bindings declared by Rapport's classes in `node`'s MRO (not Textual's built-in widgets)."""
    found: list[Binding] = []
    for cls in type(node).__mro__:
        if not cls.__module__.startswith("rapport.") or "BINDINGS" not in cls.__dict__:
            continue
        found.extend(Binding.make_bindings(cls.__dict__["BINDINGS"]))
    return found


def _group(node: DOMNode) -> str:
    title = getattr(type(node), "BINDING_GROUP_TITLE", None)
    return title or type(node).__name__


def _key_text(node: DOMNode, binding: Binding) -> str:
    return node.app.get_key_display(binding)


def _commands_of(node: Widget | App[Any], seen: set[tuple[int, str]]) -> Iterator[PaletteCommand]:
    by_action: dict[str, list[Binding]] = {}
    for binding in _own_bindings(node):
        if binding.action not in NAVIGATION:
            by_action.setdefault(binding.action, []).append(binding)
    for action, bindings in by_action.items():
        if (id(node), action) in seen:
            continue
        seen.add((id(node), action))
        first = bindings[0]
        keys = " / ".join(dict.fromkeys(_key_text(node, b) for b in bindings))
        help_text = f"key {keys}" + (f" — {first.tooltip}" if first.tooltip else "")
        yield PaletteCommand(f"{_group(node)}: {first.description or action}", help_text, node, action)


def palette_commands(screen: Screen[Any]) -> list[PaletteCommand]:
    """Every command for `screen`: its focused pane first, then its other panes, the screen, the app."""
    seen: set[tuple[int, str]] = set()
    focused = screen.focused
    panes = [w for w in screen.query("*") if w.display and _own_bindings(w)]
    if focused in panes:
        panes.remove(focused)
        panes.insert(0, focused)
    commands: list[PaletteCommand] = []
    nodes: list[Widget | App[Any]] = [*panes, screen, screen.app]
    for node in nodes:
        commands.extend(_commands_of(node, seen))
    named = {action.removeprefix("app."): (label, help_text)
             for label, action, help_text in getattr(screen.app, "PALETTE", ())}
    for index, command in enumerate(commands):
        # A bound app action listed in PALETTE goes by that name ("Undo"), its key in the help.
        if command.node is screen.app and command.action in named:
            label, help_text = named.pop(command.action)
            commands[index] = PaletteCommand(label, f"{command.help.split(' — ')[0]} — {help_text}",
                                             screen.app, command.action)
    for name, (label, help_text) in named.items():
        commands.append(PaletteCommand(label, help_text, screen.app, name))
    return commands


class RapportCommands(Provider):
    """Lists every action of the current screen, its panes and the app in the command palette."""

    def _all(self) -> list[PaletteCommand]:
        return palette_commands(self.screen)

    async def discover(self) -> Hits:
        for command in self._all():
            yield DiscoveryHit(clean(command.label), self._runner(command), help=clean(command.help))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._all():
            label = clean(command.label)
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), self._runner(command), help=clean(command.help))

    def _runner(self, command: PaletteCommand) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            node = command.node
            # A pane's action works on its cursor row: give it the focus, as its key would need.
            if isinstance(node, Widget) and not isinstance(node, Screen) and node.can_focus:
                node.focus()
            await node.run_action(command.action)

        return run

