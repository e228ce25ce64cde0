"""An ECG signal as one compact value: the samples packed as little-endian integers, and back.

A Withings recording holds 9,000 or 10,000 integer samples (microvolts; docs/API_NOTES.md,
Withings "ECG"). Stored as int16 when every sample fits, else int32, they round-trip exactly and
take 18-40 kB in one row instead of thousands of rows. Pure functions: no I/O.
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

from mapping.fields import MappingError

INT16, INT32 = 2, 4
_FORMATS = {INT16: "h", INT32: "i"}
_LIMITS = {INT16: 2**15, INT32: 2**31}


class PackedSignal(NamedTuple):
    """The packed samples, their count and how many bytes each takes."""

    data: bytes
    sample_count: int
    sample_bytes: int


def encode_signal(samples: Any, name: str = "signal") -> PackedSignal:
    """A list of integer samples -> PackedSignal; MappingError for anything else (a float, a
    sample beyond int32), so nothing is rounded or cut."""
    if not isinstance(samples, list):
        raise MappingError(f"{name} must be a list of integers, got {type(samples).__name__}")
    values = []
    for index, sample in enumerate(samples):
        if isinstance(sample, float) and sample.is_integer():
            sample = int(sample)
        if isinstance(sample, bool) or not isinstance(sample, int):
            raise MappingError(f"{name}[{index}] must be an integer, got {type(sample).__name__}")
        values.append(sample)
    width = INT16 if all(-_LIMITS[INT16] <= v < _LIMITS[INT16] for v in values) else INT32
    if width == INT32 and not all(-_LIMITS[INT32] <= v < _LIMITS[INT32] for v in values):
        raise MappingError(f"{name} has a sample beyond 32 bits")
    return PackedSignal(struct.pack(f"<{len(values)}{_FORMATS[width]}", *values), len(values), width)


def decode_signal(data: bytes | memoryview | None, sample_bytes: int | None) -> list[int] | None:
    """The samples of a stored `withings_ecg.signal` (its `sample_bytes`), as sent; None for none."""
    if data is None:
        return None
    data = bytes(data)
    if sample_bytes not in _FORMATS or len(data) % sample_bytes:
        raise ValueError(f"a signal of {len(data)} bytes cannot hold {sample_bytes}-byte samples")
    return list(struct.unpack(f"<{len(data) // sample_bytes}{_FORMATS[sample_bytes]}", data))
