"""Provides `BarChart`: value and weighted bars per label (textual-plotext), labels that fit and stay unique.

Plotext drops an x label that would touch its neighbour, so labels are shortened to the room
each bar has at the widget's current width (`short_labels`), every render. Axis figures are
in thousands so the y axis stays narrow at 80 columns.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass

from textual.app import RenderResult
from textual_plotext import PlotextPlot

from rapport.tui.app.safe import clean

_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
# Columns plotext keeps for the y axis ticks ("1,234k") and the frame.
_AXIS_COLUMNS = 9


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    weighted: float


def short_labels(labels: list[str], width: int) -> list[str]:
    """Each label in at most `width` characters, no two alike. In order of preference: the label
    itself, for YYYY-MM 'Apr 26' then '04/26', the first word, the label cut with '…', the first
    word with the other words' initials, and last the label cut and numbered."""
    width = max(width, 2)
    options = [_candidates(label, width) for label in labels]
    chosen = [0] * len(labels)
    while True:
        picked = [opts[i] for opts, i in zip(options, chosen, strict=True)]
        clashes = {p for p in picked if picked.count(p) > 1}
        if not clashes:
            return picked
        for n, label in enumerate(picked):
            if label in clashes:
                if chosen[n] + 1 < len(options[n]):
                    chosen[n] += 1
                else:  # out of ideas: number it (position keeps it unique)
                    options[n].append(labels[n][: max(width - len(str(n + 1)), 1)] + str(n + 1))
                    chosen[n] = len(options[n]) - 1


def _candidates(label: str, width: int) -> list[str]:
    found = [label]
    month = _MONTH.fullmatch(label)
    if month:  # 2026-04 -> Apr 26 -> 04/26
        year, number = month.group(1), int(month.group(2))
        found += [f"{calendar.month_abbr[number]} {year[2:]}", f"{number:02d}/{year[2:]}"]
    words = re.findall(r"\w+", label)
    if len(words) > 1:
        found.append(words[0])
    found.append(_cut(label, width))
    if len(words) > 1:  # "Closing A" / "Closing B": the first word plus the others' initials
        initials = "".join(w[0].upper() for w in words[1:])
        found.append(words[0][: max(width - len(initials), 1)] + initials)
    fitting = [c for c in found if len(c) <= width]
    return list(dict.fromkeys(fitting)) or [_cut(label, width)]


def _cut(label: str, width: int) -> str:
    return label if len(label) <= width else label[: max(width - 1, 1)] + "…"


def _thousands(value: float) -> str:
    return f"{value / 1000:,.0f}k" if value >= 1000 else f"{value:,.0f}"


class BarChart(PlotextPlot):
    """Bars of value and weighted value per label, redrawn to fit whenever it renders."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes)
        self.chart_title = ""
        self.bars: tuple[Bar, ...] = ()

    def show(self, title: str, bars: list[Bar]) -> None:
        self.chart_title = title
        # Labels come from the book or the config: never let an escape reach the terminal.
        self.bars = tuple(Bar(clean(b.label), b.value, b.weighted) for b in bars)
        self.refresh()

    @property
    def labels(self) -> list[str]:
        """The x labels as drawn at the current width."""
        room = (self.size.width - _AXIS_COLUMNS) // max(len(self.bars), 1) - 1
        return short_labels([b.label for b in self.bars], room)

    def render(self) -> RenderResult:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.chart_title)
        if self.bars:
            plt.multiple_bar(
                self.labels,
                [[b.value for b in self.bars], [b.weighted for b in self.bars]],
                # textual-plotext's stub names this `label`; plotext itself takes `labels`.
                labels=["value", "weighted"],  # type: ignore[call-arg]
            )
            top = max(b.value for b in self.bars)
            ticks = [top * i / 4 for i in range(5)] if top else [0.0]
            plt.yticks(ticks, [_thousands(t) for t in ticks])
        return super().render()
