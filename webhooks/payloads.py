"""Turn a verified delivery's body into the event to store; anything else is a PayloadError.

WHOOP v2 sends JSON `{user_id, id, type, trace_id}`; for `recovery.*` the `id` is the SLEEP's
UUID, not the cycle's (developer.whoop.com/docs/developing/webhooks; changelog 2025-08-01).
Withings sends a form POST with `userid`, `appli`, `startdate`, `enddate` and, for some
categories, `date` or `action` (developer.withings.com, data-update notifications).
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl

from storage.inbound import InboundEvent

WHOOP_EVENT_TYPES = frozenset(
    f"{kind}.{change}" for kind in ("sleep", "workout", "recovery") for change in ("updated", "deleted")
)
MAX_USER_ID = 2**63 - 1  # the columns are BIGINT
_TOKEN = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")  # ids and trace ids: UUIDs, numbers, nothing else
_DIGITS = re.compile(r"^[0-9]{1,19}$")
_UNIX = re.compile(r"^[0-9]{1,12}$")  # unix seconds, far beyond any real date
_DATE = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{1,12})$")  # a day, or unix seconds
_ACTION = re.compile(r"^[a-z_]{1,32}$")
MAX_FORM_FIELDS = 32


class PayloadError(ValueError):
    """A body that is not the event its sender documents (the message never quotes the input)."""


def _user_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise PayloadError("the user id is not a number")
    text = str(value)
    if not _DIGITS.match(text) or not 0 < int(text) <= MAX_USER_ID:
        raise PayloadError("the user id is not a positive 64-bit number")
    return int(text)


def _token(value: object, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not _TOKEN.match(str(value)):
        raise PayloadError(f"the {what} is missing or not an id")
    return str(value)


def whoop_event(body: bytes) -> InboundEvent:
    """The event a WHOOP v2 webhook body names (v1's integer ids are accepted too)."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise PayloadError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise PayloadError("the body is not a JSON object")
    event_type = data.get("type")
    if event_type not in WHOOP_EVENT_TYPES:
        raise PayloadError("the event type is not one WHOOP documents")
    user_id = _user_id(data.get("user_id"))
    object_id = _token(data.get("id"), "object id")
    trace_id = _token(data.get("trace_id"), "trace id")
    return InboundEvent(
        provider="whoop",
        dedupe_key=f"whoop:{trace_id}",
        user_id=user_id,
        payload={"user_id": user_id, "id": object_id, "type": event_type, "trace_id": trace_id},
        event_type=event_type,
        object_id=object_id,
        trace_id=trace_id,
    )


def _form(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise PayloadError("the body is not a form") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise PayloadError("a form field is repeated")
        form[name] = value
    return form


def _optional(form: dict[str, str], name: str, pattern: re.Pattern) -> str | None:
    value = form.get(name)
    if value in (None, ""):
        return None
    if not pattern.match(value):
        raise PayloadError(f"the form field {name} is malformed")
    return value


def withings_event(body: bytes) -> InboundEvent:
    """The event a Withings notification form names; deduplicated on userid, appli, startdate, enddate.

    A notification without a window (bed in/out carry `date`) adds its `date`, and a deletion its
    `action`, to the key, so that two different events never share one.
    """
    form = _form(body)
    user_id = _user_id(form.get("userid"))
    appli_text = _optional(form, "appli", _UNIX)
    if appli_text is None or int(appli_text) > 10_000:
        raise PayloadError("the appli is missing or not a notification category")
    start = _optional(form, "startdate", _UNIX)
    end = _optional(form, "enddate", _UNIX)
    date = _optional(form, "date", _DATE)
    action = _optional(form, "action", _ACTION)
    key = f"withings:{user_id}:{int(appli_text)}:{start or ''}:{end or ''}"
    if date or action:
        key += f":{date or ''}:{action or ''}"
    payload = {"userid": user_id, "appli": int(appli_text)}
    payload.update({name: int(value) for name, value in (("startdate", start), ("enddate", end)) if value})
    payload.update({name: value for name, value in (("date", date), ("action", action)) if value})
    return InboundEvent(
        provider="withings",
        dedupe_key=key,
        user_id=user_id,
        payload=payload,
        appli=int(appli_text),
        startdate=int(start) if start else None,
        enddate=int(end) if end else None,
    )
