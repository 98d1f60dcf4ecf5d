"""The operations centre's HTTP API, on the worker's web server.

  GET  /api/warnings?district=&severity=&rule=   warnings firing now (any replica answers for all)
  POST /api/warnings/{fingerprint}/ack          acknowledge: written to `warning-acks`

Both need a credential (service/auth.py): `Authorization: Bearer <token>`
with a read or an acknowledging token for the list (the board's session
cookie also reads), an acknowledging token for an acknowledgement. Missing or
wrong: 401; a read token acknowledging, or no credential configured: 403.

Reads come from the `firing` GlobalTable, which every replica holds. The
list is built in a thread from a snapshot of the table and reused for
`LIST_CACHE_SECONDS` (service/webcache.py), with account and staff ids
pseudonymised unless `show_personal_ids` (service/privacy.py).

An acknowledgement is not applied here but produced to the acks topic, so
any replica can take it and the worker owning the warning applies it. The
server sets who and when: `acknowledged_by` is the credential's person (or
the trusted proxy's user header; see auth.py), `acknowledged_at` is now. A
body naming someone else is refused (403), a body with `acknowledged_at`
too (400): neither is the client's to say. Bodies over 4 KiB, not JSON, or
not matching the acknowledgement model are refused with a reason.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import faust
from faust.web import Request, Response, View
from pydantic import ValidationError

from schemas import WarningAck

from . import metrics
from .auth import Authenticator
from .privacy import Pseudonyms
from .webcache import CachedBody

MAX_BODY = 4096
SEVERITY_FILTER = {"blue", "yellow", "orange", "red"}
LIST_CACHE_SECONDS = 1.0  # the firing list is rebuilt at most this often


def firing_list(entries: list, pseudonyms: Pseudonyms, clock: float | None = None) -> tuple[list[dict], bytes]:
    """(warnings, their JSON body) from (fingerprint, entry) pairs of the firing table; newest first.

    `clock` is the service clock the list was read at (the board measures ages on it)."""
    out = []
    for _fp, entry in entries:
        if not entry:
            continue
        w = pseudonyms.warning(entry["warning"])
        out.append({**w, "acknowledged": entry.get("ack") is not None, "ack": entry.get("ack")})
    out.sort(key=lambda w: w["changed_at"], reverse=True)
    return out, json.dumps({"count": len(out), "clock": clock, "warnings": out}, ensure_ascii=False).encode()


def filtered(warnings: list[dict], district: str | None, severity: str | None, rule: str | None,
             clock: float | None = None) -> bytes:
    out = [w for w in warnings
           if (not district or w["scope"].get("district_id") == district)
           and (not severity or w["severity"] == severity) and (not rule or w["rule_id"] == rule)]
    return json.dumps({"count": len(out), "clock": clock, "warnings": out}, ensure_ascii=False).encode()


def refuse(status: int, reason: str) -> Response:
    from aiohttp import web as aioweb

    headers = {"WWW-Authenticate": 'Bearer realm="risk-warnings"'} if status == 401 else {}
    return aioweb.json_response({"error": reason}, status=status, headers=headers)


def install(app: faust.App, firing, acks_topic, authenticator: Authenticator, pseudonyms: Pseudonyms,
            clock: Callable[[], float | None] | None = None) -> CachedBody:
    """The API's pages; `clock` reads the service clock for the list's `clock` field (None or 0: unknown)."""
    def service_clock() -> float | None:
        value = clock() if clock is not None else time.time()
        return float(value) if value else None

    listing = CachedBody(lambda: (list(firing.items()), service_clock()),
                         lambda snap: firing_list(snap[0], pseudonyms, snap[1]), LIST_CACHE_SECONDS)

    @app.page("/api/warnings")
    class Warnings(View):
        async def get(self, request: Request) -> Response:
            cred, status, reason = authenticator.check(request, "read", cookie_ok=True)
            if cred is None:
                metrics.api_refused.labels("unauthorized").inc()
                return refuse(status, reason)
            q = request.query
            district, severity, rule = q.get("district"), q.get("severity"), q.get("rule")
            if severity is not None and severity not in SEVERITY_FILTER:
                return self.error(400, f"severity must be one of {sorted(SEVERITY_FILTER)}")
            warnings, body = await listing.get()
            if district or severity or rule:
                body = await asyncio.to_thread(filtered, warnings, district, severity, rule, service_clock())
            return self.bytes(body, content_type="application/json", headers={"Cache-Control": "no-store"})

    @app.page("/api/warnings/{fingerprint}/ack")
    class Acknowledge(View):
        async def post(self, request: Request, fingerprint: str) -> Response:
            cred, status, reason = authenticator.check(request, "ack")
            if cred is None:
                metrics.api_refused.labels("unauthorized").inc()
                return refuse(status, reason)
            who, why = authenticator.identity(request, cred)
            if who is None:
                metrics.api_refused.labels("unauthorized").inc()
                return refuse(403, why)
            if request.content_length is None or request.content_length > MAX_BODY:
                metrics.api_refused.labels("too_large").inc()
                return self.error(413, f"body must be at most {MAX_BODY} bytes, with a Content-Length")
            body = await request.read()
            if len(body) > MAX_BODY:
                return self.error(413, f"body must be at most {MAX_BODY} bytes")
            try:
                data = json.loads(body)
                if not isinstance(data, dict):
                    raise ValueError("not an object")
                if data.get("acknowledged_at") is not None:
                    raise ValueError("acknowledged_at is set by the server: leave it out")
                claimed = data.get("acknowledged_by")
                if claimed is not None and claimed != who:
                    metrics.api_refused.labels("not_yours").inc()
                    return self.error(403, f"acknowledged_by comes from your credential ({who}): "
                                           "leave it out, or give that name")
                ack = WarningAck.model_validate({
                    "ack_id": data.get("ack_id") or uuid.uuid4().hex,
                    "fingerprint": fingerprint,
                    "acknowledged_by": who,
                    "acknowledged_at": datetime.now(UTC).isoformat(),
                    "note": data.get("note"),
                })
            except (ValueError, ValidationError) as e:
                metrics.api_refused.labels("invalid").inc()
                detail = e.errors()[0] if isinstance(e, ValidationError) else {"msg": str(e)}
                where = ".".join(str(p) for p in detail.get("loc", ())) or "body"
                return self.error(400, f"{where}: {detail['msg']}"[:300])
            await acks_topic.send(key=fingerprint.encode(), value=ack.model_dump_json().encode())
            return self.json({"accepted": True, "ack_id": ack.ack_id, "fingerprint": fingerprint,
                              "acknowledged_by": who, "acknowledged_at": ack.acknowledged_at.isoformat()},
                             status=202)

    return listing
