"""Provides the pipeline stages: the account manager's work cycle, win probabilities, rotting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

StageKind = Literal["open", "won", "lost"]


@dataclass(frozen=True)
class Stage:
    """One pipeline stage.

    probability: default win probability in percent, for weighted value.
    rotting_days: a deal idle this long in this stage is flagged; 0 never rots.
    kind: 'open' deals are in play, 'won' ones are clients, 'lost' ones are gone.
    """

    name: str
    probability: float
    rotting_days: int
    kind: StageKind = "open"


DEFAULT_STAGES: tuple[Stage, ...] = (
    Stage("Prospect", 10, 14),
    Stage("Appointment", 20, 10),
    Stage("Needs identified", 35, 14),
    Stage("Proposal presented", 50, 14),
    Stage("Objections", 60, 10),
    Stage("Closing", 80, 7),
    Stage("Won / support", 100, 60, "won"),
    Stage("Referral", 100, 30, "won"),
    Stage("Lost", 0, 0, "lost"),
)


DEFAULT_LOST_REASONS: tuple[str, ...] = ("price", "timing", "competitor", "no budget", "no decision",
                                          "other")


@dataclass(frozen=True)
class Pipeline:
    """The ordered stages of the workspace and the reasons a deal can be lost, as configured."""

    stages: tuple[Stage, ...] = DEFAULT_STAGES
    lost_reasons: tuple[str, ...] = DEFAULT_LOST_REASONS

    def kind(self, name: str) -> StageKind:
        """'open', 'won' or 'lost'; a stage no longer configured counts as open."""
        stage = self.get(name)
        return stage.kind if stage is not None else "open"

    def first_of(self, kind: StageKind) -> Stage | None:
        return next((stage for stage in self.stages if stage.kind == kind), None)

    def open_neighbour(self, name: str, step: int) -> Stage | None:
        """The open stage before (-1) or after (+1) the open stage `name`; None at either end
        and for a won or lost deal (`<`/`>` never decide a deal)."""
        if self.kind(name) != "open" or self.get(name) is None:
            return None
        position = self.index(name) + step
        while 0 <= position < len(self.stages):
            if self.stages[position].kind == "open":
                return self.stages[position]
            position += step
        return None

    @property
    def names(self) -> list[str]:
        return [stage.name for stage in self.stages]

    def get(self, name: str) -> Stage | None:
        """Stage by name, case-insensitive."""
        wanted = name.strip().casefold()
        for stage in self.stages:
            if stage.name.casefold() == wanted:
                return stage
        return None

    def win_probability(self, stage_name: str, own: float | None) -> float:
        """Percent chance a deal in `stage_name` is won, for weighted value (the one rule).

        A won deal is certain (100) and a lost one is gone (0), whatever probability it was
        given while open; an open deal has its own probability, else its stage's default;
        a stage no longer configured counts as open with a default of 0.
        """
        stage = self.get(stage_name)
        if stage is not None and stage.kind == "won":
            return 100.0
        if stage is not None and stage.kind == "lost":
            return 0.0
        if own is not None:
            return float(own)
        return float(stage.probability) if stage else 0.0

    def index(self, name: str) -> int:
        stage = self.get(name)
        if stage is None:
            raise KeyError(name)
        return self.stages.index(stage)

    def next_stage(self, name: str) -> Stage | None:
        """The stage after `name` in the work cycle, skipping 'lost' (that is never "next")."""
        for stage in self.stages[self.index(name) + 1 :]:
            if stage.kind != "lost":
                return stage
        return None

    def previous_stage(self, name: str) -> Stage | None:
        position = self.index(name)
        for stage in reversed(self.stages[:position]):
            if stage.kind != "lost":
                return stage
        return None
