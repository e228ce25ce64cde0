"""The sandbox's people: person 0 is built at once and kept; the others are built on first use.

A history that nothing changed is a pure function of (seed, days, start clock, days advanced), so
only a bounded number of them is held and a dropped one is rebuilt identically when asked for
again; a history that was changed (a weigh-in, an edit) is pinned and kept for good. That keeps
200 people with a year of history each at a few tens of MB instead of several hundred.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .history import History
from .person import Identity, identity, person_seed
from .timeutil import UTC
from .withings_daily import WithingsDaily
from .withings_series import WithingsSeries

DEFAULT_HELD = 16  # unchanged histories held besides the pinned ones (a year of history is ~3 MB)


@dataclass
class Life:
    """One person's records: WHOOP and Withings measure groups (History), Withings daily data,
    the high-frequency Withings endpoints with the person's devices."""

    history: History
    daily: WithingsDaily
    series: WithingsSeries


class People:
    """`count` sandbox people sharing one start clock; person 0 is the single member of old."""

    def __init__(
        self,
        count: int = 1,
        *,
        seed: int = 42,
        days: int = 1095,
        now: datetime | None = None,
        held: int = DEFAULT_HELD,
        series_days: int | None = None,
    ) -> None:
        if count < 1:
            raise ValueError(f"people must be at least 1, not {count}")
        self.count, self.seed, self.days, self.held = count, seed, days, max(0, held)
        self.series_days = series_days
        self.now = now or datetime.now(UTC)  # fixed once, so a rebuilt history equals the first one
        self.days_advanced = 0
        self.built = 0  # histories generated, rebuilds included
        self.signed_in = 0  # whose browser session approves the authorize pages
        self._pinned: dict[int, Life] = {}
        self._held: OrderedDict[int, Life] = OrderedDict()
        self.pin(0)

    def identity(self, index: int) -> Identity:
        """Person `index`'s user ids and profile (no history is built)."""
        if not 0 <= index < self.count:
            raise KeyError(f"no sandbox person {index}: people are 0..{self.count - 1}")
        return identity(index)

    def life(self, index: int) -> Life:
        """Person `index`'s records, built (and brought to the shared day) on first use."""
        if index in self._pinned:
            return self._pinned[index]
        life = self._held.pop(index, None) or self._build(index)
        self._held[index] = life
        while len(self._held) > self.held:
            self._held.popitem(last=False)
        return life

    def pin(self, index: int) -> Life:
        """Person `index`'s records, kept for good: a change to them cannot be rebuilt from the seed."""
        life = self.life(index)
        self._held.pop(index, None)
        self._pinned[index] = life
        return life

    def _build(self, index: int) -> Life:
        who = self.identity(index)
        history = History(person_seed(self.seed, index), self.days, self.now, who)
        for _ in range(self.days_advanced):
            history.advance_day()
        self.built += 1
        daily = WithingsDaily(history)
        if self.series_days == 0:  # no watch or sleep monitor at all
            series_from = date.max
        else:
            skipped = 0 if self.series_days is None else max(0, self.days - self.series_days)
            series_from = history.first_day + timedelta(days=skipped)
        return Life(history, daily, WithingsSeries(history, daily, series_from))

    def advance_day(self) -> dict:
        """Add the next day to every person (one built later replays it); person 0's summary."""
        self.days_advanced += 1
        summaries = {index: life.history.advance_day() for index, life in [*self._pinned.items(), *self._held.items()]}
        return summaries[0]

    def built_lives(self) -> list[tuple[int, Life]]:
        """(index, records) of every person whose history is built now, pinned or held."""
        return sorted({**self._held, **self._pinned}.items())

    def summary(self) -> dict:
        """How many people there are, and how many histories are held, pinned and were built."""
        return {
            "count": self.count,
            "held": len(self._held),
            "pinned": len(self._pinned),
            "built": self.built,
            "signed_in": self.signed_in,
            "days_advanced": self.days_advanced,
        }
