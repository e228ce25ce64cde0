"""A sandbox person: who they are to the providers, and baselines and travel as pure functions of (seed, date)."""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from .timeutil import local_at

HOME_ZONE = "Europe/Berlin"
TRAVEL_ZONE = "America/New_York"
# WHOOP 4.0 shipped in September 2021; spo2/skin temperature exist only for 4.0 members (WHOOP-SPEC).
WHOOP_4_SINCE = date(2021, 9, 8)
# The scale was upgraded from a Body Cardio (modelid 6) to a Body Scan (modelid 10), as in the real captures.
BODY_SCAN_SINCE = date(2023, 12, 20)
DAY_END_HOUR = 22.0  # every activity of a day ends before 22:00 local; the next bedtime is later
# Person 0 is the sandbox's single member of old; person n has these ids plus n.
WHOOP_USER_ID = 10129
WITHINGS_USER_ID = 3141592
# Record ids (WHOOP cycles, Withings groups and sleep summaries) are unique across people, as the
# providers' are across members: person n's lie n strides above person 0's (all below 10**11).
ID_STRIDE = 10**11
FIRST_NAMES = ("Sam", "Alex", "Robin", "Kim", "Jo", "Noa", "Mika", "Ari", "Lou", "Eli", "Pat")


def day_rng(seed: int, stream: str, day: date) -> random.Random:
    """A per-day RNG, so a day's records do not depend on how many days were generated before it."""
    return random.Random(f"{seed}:{stream}:{day.toordinal()}")


def device_id(seed: int, model: str) -> str:
    """A stable 40-hex Withings device id (the real ones are SHA-1 shaped)."""
    return hashlib.sha1(f"{seed}:{model}".encode()).hexdigest()


@dataclass(frozen=True)
class Identity:
    """Who sandbox person `index` is to WHOOP and Withings (ids, profile)."""

    index: int
    whoop_user_id: int
    withings_userid: int
    first_name: str
    last_name: str
    email: str

    @property
    def id_offset(self) -> int:
        """Added to this person's record ids, so no two people share one."""
        return self.index * ID_STRIDE


def identity(index: int) -> Identity:
    """Person `index`'s identity; person 0 is Sam Sandbox, user 10129 / userid 3141592."""
    if index == 0:
        return Identity(0, WHOOP_USER_ID, WITHINGS_USER_ID, "Sam", "Sandbox", "sam.sandbox@example.com")
    first = FIRST_NAMES[index % len(FIRST_NAMES)]
    return Identity(
        index,
        WHOOP_USER_ID + index,
        WITHINGS_USER_ID + index,
        first,
        f"Sandbox{index}",
        f"{first.lower()}.sandbox{index}@example.com",
    )


def person_seed(seed: int, index: int) -> int:
    """The seed of person `index`'s history: `seed` itself for person 0, a derived one for the others."""
    if index == 0:
        return seed
    return int(hashlib.sha1(f"{seed}:person:{index}".encode()).hexdigest()[:12], 16)


@dataclass
class Person:
    """Baselines for one member; drift comes from a few slow sine waves with seeded phases."""

    seed: int
    who: Identity = field(default_factory=lambda: identity(0))
    _phases: list[float] = field(init=False)
    _trips: dict[int, list[tuple[date, date]]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        rng = random.Random(f"{self.seed}:person")
        self._phases = [rng.uniform(0, 2 * math.pi) for _ in range(6)]

    def _wave(self, day: date, period_days: float, phase: int) -> float:
        return math.sin(2 * math.pi * day.toordinal() / period_days + self._phases[phase])

    def weight_kg(self, day: date) -> float:
        """The trend weight: about 80 kg, drifting a few kg over years, a little over seasons."""
        return 80.0 + 3.0 * self._wave(day, 1130, 0) + 1.1 * self._wave(day, 365.25, 1) + 0.5 * self._wave(day, 41, 2)

    def fat_ratio(self, day: date) -> float:
        """Fat percentage, loosely following the weight trend."""
        return 19.0 + 0.9 * (self.weight_kg(day) - 80.0) + 0.6 * self._wave(day, 97, 3)

    def hrv_baseline(self, day: date) -> float:
        """RMSSD baseline in ms; fitter phases (lower weight) raise it."""
        return 62.0 + 9.0 * self._wave(day, 700, 4) - 1.5 * (self.weight_kg(day) - 80.0)

    def rhr_baseline(self, day: date) -> float:
        """Resting heart rate baseline in bpm, mirroring the HRV trend."""
        return 55.0 - 3.0 * self._wave(day, 700, 4) + 0.4 * (self.weight_kg(day) - 80.0)

    def zone_for(self, day: date) -> str:
        """Europe/Berlin at home; America/New_York during one or two trips a year."""
        for first, last in self._trips_in(day.year):
            if first <= day <= last:
                return TRAVEL_ZONE
        return HOME_ZONE

    def _trips_in(self, year: int) -> list[tuple[date, date]]:
        if year not in self._trips:
            rng = random.Random(f"{self.seed}:trips:{year}")
            trips = []
            for _ in range(rng.choice((1, 2, 2))):
                first = date(year, 1, 1) + timedelta(days=rng.randrange(15, 340))
                trips.append((first, first + timedelta(days=rng.randrange(4, 10))))
            self._trips[year] = trips
        return self._trips[year]

    def bedtime(self, day: date) -> datetime:
        """When the main sleep ending on `day` begins: about 23:00 local on the evening before."""
        rng = day_rng(self.seed, "bedtime", day)
        evening = day - timedelta(days=1)
        start = local_at(evening, 23.0 + rng.uniform(-0.75, 0.9), self.zone_for(evening))
        return start + timedelta(seconds=rng.randrange(60))

    def day_end(self, day: date) -> datetime:
        """The instant after which nothing of `day` happens (22:00 local)."""
        return local_at(day, DAY_END_HOUR, self.zone_for(day))

    def scale_model(self, day: date) -> tuple[str, int]:
        """(model, modelid) of the bathroom scale in use on `day`."""
        return ("Body Scan", 10) if day >= BODY_SCAN_SINCE else ("Body Cardio", 6)
