"""Generate Withings getmeas measure groups shaped like the real captures (fields, units, attribs)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from .person import HOME_ZONE, Person, day_rng, device_id
from .timeutil import local_at, unix

WITHINGS_TIMEZONE = "Europe/Berlin"
MEASTYPE = {
    "weight": 1,
    "fat_free_mass": 5,
    "fat_ratio": 6,
    "fat_mass": 8,
    "diastolic_bp": 9,
    "systolic_bp": 10,
    "heart_pulse": 11,
    "muscle_mass": 76,
    "hydration": 77,
    "bone_mass": 88,
    "pulse_wave_velocity": 91,
    "vascular_age": 155,
}
BPM_MODEL = ("BPM Connect", 45)
GRPID_EPOCH = 1_420_070_400  # 2015-01-01; grpids grow ~1.7 million a day, like the real ones
ATTRIB_DEVICE, ATTRIB_MANUAL, ATTRIB_DEVICE_SAME = 0, 2, 8
FM_DEVICE, FM_MANUAL = 131, 128


def grpid_for(created: int, rng, person: Person) -> int:
    """An int64 group id that grows with the creation time (History makes it unique per person)."""
    return person.who.id_offset + 2_000_000_000 + (created - GRPID_EPOCH) * 20 + rng.randrange(20)


def _measure(value: float, mtype: int, unit: int, fm: int | None = FM_DEVICE) -> dict:
    """One measure; the real value is value * 10**unit. Computed types (5, 6) carry no algo/fm."""
    measure = {"value": int(round(value)), "type": mtype, "unit": unit}
    if fm is not None:
        measure.update({"algo": 0, "fm": fm})
    return measure


def body_measures(kg: float, fat_ratio: float) -> list[dict]:
    """A scale's body-composition measures in the real order and units (1, 8, 76, 77, 88, 6, 5)."""
    fat = kg * fat_ratio / 100
    lean = kg - fat
    return [
        _measure(kg * 1000, 1, -3),
        _measure(fat * 100, 8, -2),
        _measure(lean * 0.94 * 100, 76, -2),
        _measure(lean * 0.72 * 100, 77, -2),
        _measure(lean * 0.055 * 100, 88, -2),
        _measure(fat_ratio * 1000, 6, -3, None),
        _measure(lean * 1000, 5, -3, None),
    ]


def manual_measures(kg: float, rng) -> list[dict]:
    """A weight typed into the app: 0.1 kg steps, unit -4 or -3, fm 128, sometimes app fields."""
    tenth = round(kg, 1)
    if rng.random() < 0.5:
        return [_measure(tenth * 10_000, 1, -4, FM_MANUAL)]
    measure = _measure(tenth * 1000, 1, -3, FM_MANUAL)
    measure.update({"apppfmid": 7, "appliver": 5050021})  # undocumented, present in real data
    return [measure]


def make_group(grpid: int, attrib: int, when: int, created: int, device: tuple | None, measures: list[dict]) -> dict:
    """A measure group with every field real payloads carry (`modelid`, not the spec's `model_id`)."""
    model, modelid, devid = device if device else (None, None, None)
    return {
        "grpid": grpid,
        "attrib": attrib,
        "date": when,
        "created": created,
        "modified": created,
        "category": 1,
        "deviceid": devid,
        "hash_deviceid": devid,
        "measures": measures,
        "modelid": modelid,
        "model": model,
        "comment": None,
    }


def set_weight(group: dict, kg: float) -> None:
    """Change a group's weight in place, keeping its fat ratio (fat and lean masses follow)."""
    types = {m["type"]: m for m in group["measures"]}
    types[1]["value"] = int(round(kg / 10 ** types[1]["unit"]))
    if 6 in types:
        ratio = types[6]["value"] * 10 ** types[6]["unit"]
        group["measures"] = body_measures(kg, ratio)


def _sync_delay(rng, usual: float) -> timedelta:
    """Time until the device synced: usually minutes; the real scale often took most of a day."""
    roll = rng.random()
    if roll < usual:
        return timedelta(seconds=rng.uniform(40, 900))
    if roll < 0.96:
        return timedelta(hours=rng.uniform(2, 20))
    return timedelta(hours=rng.uniform(23, 34))


def _scale_groups(person: Person, day: date, when: datetime, rng) -> list[dict]:
    """A scale weigh-in: body composition, sometimes a standing heart rate and a PWV group."""
    model, modelid = person.scale_model(day)
    device = (model, modelid, device_id(person.seed, model))
    kg = person.weight_kg(day) + rng.gauss(0, 0.35)
    at, created = unix(when), unix(when + _sync_delay(rng, 0.7))
    groups = [
        make_group(
            grpid_for(created, rng, person),
            ATTRIB_DEVICE,
            at,
            created,
            device,
            body_measures(kg, person.fat_ratio(day) + rng.gauss(0, 0.4)),
        )
    ]
    if rng.random() < 0.12:
        groups.append(
            make_group(
                grpid_for(created + 2, rng, person),
                ATTRIB_DEVICE,
                at,
                created + 2,
                device,
                [_measure(round(rng.gauss(68, 6)) * 100, 11, -2)],
            )
        )
    if rng.random() < 0.18:  # pulse wave velocity and vascular age come as their own attrib-8 group
        measures = [_measure(rng.gauss(7.4, 0.3) * 1000, 91, -3), _measure(rng.gauss(41, 1.5) * 10, 155, -1)]
        groups.append(
            make_group(grpid_for(created + 5, rng, person), ATTRIB_DEVICE_SAME, at, created + 5, device, measures)
        )
    return groups


def _bp_group(person: Person, day: date, when: datetime, rng) -> dict:
    """A BPM Connect reading: diastolic, systolic and pulse, all unit -2 (10600 = 106 mmHg)."""
    device = (*BPM_MODEL, device_id(person.seed, BPM_MODEL[0]))
    extra = 0.8 * (person.weight_kg(day) - 80)
    measures = [
        _measure(round(rng.gauss(79 + extra / 2, 5)) * 100, 9, -2),
        _measure(round(rng.gauss(123 + extra, 7)) * 100, 10, -2),
        _measure(round(rng.gauss(64, 6)) * 100, 11, -2),
    ]
    created = unix(when + _sync_delay(rng, 0.9))
    return make_group(grpid_for(created, rng, person), ATTRIB_DEVICE, unix(when), created, device, measures)


def generate_withings_day(person: Person, day: date, wake: datetime) -> list[dict]:
    """The groups measured on `day` (~1.3 a day): weigh-ins at home, manual entries, BP readings."""
    rng = day_rng(person.seed, "withings", day)
    at_home = person.zone_for(day) == HOME_ZONE
    groups: list[dict] = []
    if at_home and rng.random() < 0.66:
        groups += _scale_groups(person, day, wake + timedelta(minutes=rng.uniform(5, 45)), rng)
    elif rng.random() < 0.07:  # typed in the app, e.g. on a trip: attrib 2 and no device at all
        when = unix(local_at(day, rng.uniform(7, 21), person.zone_for(day)))
        created = when + rng.randrange(1, 4)
        groups.append(
            make_group(
                grpid_for(created, rng, person),
                ATTRIB_MANUAL,
                when,
                created,
                None,
                manual_measures(person.weight_kg(day) + rng.gauss(0, 0.4), rng),
            )
        )
    if at_home and rng.random() < 0.3:
        evening = local_at(day, rng.uniform(19, 21.4), HOME_ZONE)
        groups.append(_bp_group(person, day, evening, rng))
        if rng.random() < 0.25:
            groups.append(_bp_group(person, day, evening + timedelta(minutes=rng.uniform(2, 6)), rng))
    return groups


def extra_weigh_in(person: Person, day: date, wake: datetime) -> list[dict]:
    """A weigh-in that syncs within minutes, from its own RNG stream (advance_day promises one)."""
    rng = day_rng(person.seed, "extra-weigh-in", day)
    when = wake + timedelta(minutes=rng.uniform(5, 30))
    if person.zone_for(day) != HOME_ZONE:  # the scale stays at home: typed in on a trip
        created = unix(when) + rng.randrange(1, 4)
        return [
            make_group(
                grpid_for(created, rng, person),
                ATTRIB_MANUAL,
                unix(when),
                created,
                None,
                manual_measures(person.weight_kg(day) + rng.gauss(0, 0.4), rng),
            )
        ]
    model, modelid = person.scale_model(day)
    device = (model, modelid, device_id(person.seed, model))
    created = unix(when + timedelta(seconds=rng.uniform(40, 600)))
    measures = body_measures(person.weight_kg(day) + rng.gauss(0, 0.35), person.fat_ratio(day))
    return [make_group(grpid_for(created, rng, person), ATTRIB_DEVICE, unix(when), created, device, measures)]
