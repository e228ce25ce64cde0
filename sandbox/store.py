"""In-memory record stores: sorted WHOOP collections with cursor paging, and Withings group queries."""

from __future__ import annotations

from bisect import bisect_left, insort
from typing import Iterable


class RecordCollection:
    """WHOOP records kept in ascending (start in ms, tie-breaker) order; pages are served newest first."""

    def __init__(self) -> None:
        self._keys: list[tuple[int, str]] = []
        self._records: list[dict] = []
        self._by_id: dict[object, dict] = {}

    def __len__(self) -> int:
        return len(self._records)

    def add(self, sort_ms: int, tie: str, record: dict, record_id: object) -> None:
        """Insert a record; appending in time order (the usual case) costs nothing extra."""
        key = (sort_ms, tie)
        if not self._keys or key > self._keys[-1]:
            self._keys.append(key)
            self._records.append(record)
        else:
            insort(self._keys, key)
            self._records.insert(self._keys.index(key), record)
        self._by_id[record_id] = record

    def remove(self, record_id: object) -> dict:
        """Delete a record (the user deleted it in the app); KeyError when there is none."""
        record = self._by_id.pop(record_id)
        index = next(i for i, r in enumerate(self._records) if r is record)
        del self._records[index], self._keys[index]
        return record

    def all(self) -> list[dict]:
        """Every record, oldest first."""
        return list(self._records)

    def get(self, record_id: object) -> dict | None:
        """The record with this id (cycle id, sleep/workout UUID), or None."""
        return self._by_id.get(record_id)

    def page(
        self, start_ms: int | None, end_ms: int | None, limit: int, before: tuple[int, str] | None
    ) -> tuple[list[dict], tuple[int, str] | None]:
        """Up to `limit` records with start_ms <= key < end_ms (and below the cursor), newest first.

        Returns the records and the cursor of the last one when older matching records remain.
        The cursor is a position, not an offset, so records added meanwhile (a new day) neither
        shift nor duplicate the following pages.
        """
        low = bisect_left(self._keys, (start_ms,)) if start_ms is not None else 0
        high = bisect_left(self._keys, (end_ms,)) if end_ms is not None else len(self._keys)
        if before is not None:
            high = min(high, bisect_left(self._keys, before))
        first = max(low, high - limit)
        records = self._records[first:high][::-1]
        cursor = self._keys[first] if first > low else None
        return records, cursor

    def newest(self, count: int = 1) -> list[dict]:
        """The newest `count` records, newest first."""
        return self._records[-count:][::-1]


def _has_types(group: dict, types: set[int] | None) -> dict | None:
    """The group, narrowed to the requested measure types; None when none of them is present.

    With `meastype(s)` the real API returns only the requested measures of each group (as far as
    client code shows; the docs do not say it outright).
    """
    if types is None:
        return group
    measures = [m for m in group["measures"] if m["type"] in types]
    return {**group, "measures": measures} if measures else None


def query_groups(
    groups: Iterable[dict],
    *,
    lastupdate: int | None = None,
    startdate: int | None = None,
    enddate: int | None = None,
    meastypes: set[int] | None = None,
    category: int = 1,
) -> list[dict]:
    """Groups matching a getmeas query, newest `date` first (as the real captures are ordered).

    `lastupdate` selects groups whose `modified` >= lastupdate and, as the docs advise using it
    "instead of startdate + enddate", overrides them. Otherwise startdate <= date <= enddate;
    whether Withings treats `enddate` as inclusive is undocumented.
    """
    chosen = []
    for group in groups:
        if group["category"] != category:
            continue
        if lastupdate is not None:
            if group["modified"] < lastupdate:
                continue
        elif (startdate is not None and group["date"] < startdate) or (enddate is not None and group["date"] > enddate):
            continue
        narrowed = _has_types(group, meastypes)
        if narrowed is not None:
            chosen.append(narrowed)
    chosen.sort(key=lambda g: (g["date"], g["grpid"]), reverse=True)
    return chosen
