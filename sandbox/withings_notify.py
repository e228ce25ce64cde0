"""Withings `POST /notify`: subscribe (after a HEAD on the callback URL, as Withings does), list, revoke.

A subscription routes that person's notifications of that appli to its callback URL (the
pusher's configured Withings URL serves people without one). The body status for a callback
that fails the HEAD, 293, is the sandbox's reading of Withings' error list (UNCONFIRMED).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .push import check_callback
from .web import Request, Response
from .withings_api import body_status

if TYPE_CHECKING:
    from .app import SandboxApp

CALLBACK_REFUSED = 293


def handle(app: SandboxApp, req: Request) -> Response:
    """Answer one /notify call for the person the bearer token belongs to."""
    token = req.bearer() or req.params.get("access_token")
    with app.lock:
        person = app.withings_auth.owner(token) if app.withings_auth.check(token) else None
    if person is None:
        return body_status(401)
    params, action = req.params, req.params.get("action")
    if action == "list":
        with app.lock:
            mine = [s for s in app.push.subscriptions if s["person"] == person]
        profiles = [
            {"appli": s["appli"], "callbackurl": s["callbackurl"], "comment": "", "expires": 2147483647} for s in mine
        ]
        return body_status(0, {"profiles": profiles})
    if action not in ("subscribe", "revoke") or not params.get("callbackurl") or not params.get("appli", "").isdigit():
        return body_status(503)
    wanted = {"person": person, "callbackurl": params["callbackurl"], "appli": int(params["appli"])}
    if action == "subscribe":
        status = check_callback(wanted["callbackurl"])  # outside the lock: the receiver may be slow
        if status != 200:
            return body_status(CALLBACK_REFUSED)
    with app.lock:
        if action == "subscribe" and wanted not in app.push.subscriptions:
            app.push.subscriptions.append(wanted)
        elif action == "revoke":
            app.push.subscriptions[:] = [s for s in app.push.subscriptions if s != wanted]
    return body_status(0)
