"""The Withings Heart v2 `list` and `get` stand-ins: ECG recordings from the watch and their signals.

A recording is a pure function of (seed, day); its signal is built only when `get` asks for it.
Docs: docs/API_NOTES.md, Withings: ECG.
"""

from __future__ import annotations

import math
from datetime import date

from .person import Person, day_rng, device_id
from .timeutil import local_at, unix

SCANWATCH_MODEL = 93  # what a ScanWatch's recordings report (the reference lists 44 BPM Core, 91 Move ECG)
SAMPLING_FREQUENCY = 300  # Hz, ScanWatch and Move ECG (BPM Core: 500)
RECORDING_SECONDS = 30  # ScanWatch and Move ECG (BPM Core: 20)
LEFT_WRIST = 1  # `wearposition`
NEGATIVE, POSITIVE, INCONCLUSIVE = 0, 1, 2  # `afib`
SIGNAL_ID_BASE = 5_000_000_000


def recording_on(person: Person, day: date) -> dict | None:
    """The ECG the person took on `day`, if any. A failed attempt is listed without `ecg` and
    `heart_rate`, as ScanWatch users have seen (vangorra/python_withings_api PR #86)."""
    rng = day_rng(person.seed, "withings-ecg", day)
    if rng.random() >= 0.12:
        return None
    taken = unix(local_at(day, rng.uniform(8.0, 21.0), person.zone_for(day)))
    record = {
        "deviceid": device_id(person.seed, "ScanWatch"),
        "model": SCANWATCH_MODEL,
        "timestamp": taken,
        "modified": taken + rng.randrange(60, 1800),
    }
    if rng.random() < 0.15:
        return record
    afib = rng.choices((NEGATIVE, INCONCLUSIVE, POSITIVE), weights=(85, 12, 3))[0]
    record["ecg"] = {"signalid": person.who.id_offset + SIGNAL_ID_BASE + day.toordinal(), "afib": afib}
    record["heart_rate"] = rng.randint(55, 95)
    return record


def day_of_signal(person: Person, signalid: int) -> date | None:
    """The day whose recording has `signalid`, or None when it is not this person's."""
    ordinal = signalid - person.who.id_offset - SIGNAL_ID_BASE
    if not 0 < ordinal < date.max.toordinal():
        return None
    day = date.fromordinal(ordinal)
    record = recording_on(person, day)
    return day if record and record.get("ecg", {}).get("signalid") == signalid else None


def signal_of(person: Person, day: date) -> dict:
    """Heart v2 get's body for the recording of `day`: the samples in microvolts and how they were taken."""
    record = recording_on(person, day)
    rng = day_rng(person.seed, "withings-ecg-signal", day)
    beat = SAMPLING_FREQUENCY * 60 / record["heart_rate"]
    signal = []
    for index in range(SAMPLING_FREQUENCY * RECORDING_SECONDS):
        phase = (index % beat) / beat
        wave = 1100 * math.exp(-(((phase - 0.4) / 0.012) ** 2))  # R
        wave += 120 * math.exp(-(((phase - 0.25) / 0.04) ** 2))  # P
        wave += 260 * math.exp(-(((phase - 0.7) / 0.06) ** 2))  # T
        signal.append(int(wave) + rng.randint(-15, 15))
    return {
        "signal": signal,
        "sampling_frequency": SAMPLING_FREQUENCY,
        "wearposition": LEFT_WRIST,
        "model": SCANWATCH_MODEL,
        "heart_rate": record["heart_rate"],
    }
