"""The operations centre's HTTP API, on the worker's web server.

  GET  /api/warnings?district=&severity=&rule=   warnings firing now (any replica answers for all)
  POST /api/warnings/{fingerprint}/ack          acknowledge: written to `warning-acks`

Reads come from the `firing` GlobalTable, which every replica holds. An
acknowledgement is not applied here but produced to the acks topic, so any
replica can take it and the worker owning the warning applies it. Writes
need `Authorization: Bearer <token>`; bodies over 4 KiB, not JSON, or not
matching the acknowledgement model are refused with a reason.
"""

from __future__ import annotations

import hmac
import json
import uuid
from datetime import UTC, datetime

import faust
from faust.web import Request, Response, View
from pydantic import ValidationError

from schemas import WarningAck

from . import metrics

MAX_BODY = 4096
SEVERITY_FILTER = {"blue", "yellow", "orange", "red"}


def install(app: faust.App, firing, acks_topic, token_of) -> None:
    @app.page("/api/warnings")
    class Warnings(View):
        async def get(self, request: Request) -> Response:
            q = request.query
            district, severity, rule = q.get("district"), q.get("severity"), q.get("rule")
            if severity is not None and severity not in SEVERITY_FILTER:
                return self.error(400, f"severity must be one of {sorted(SEVERITY_FILTER)}")
            out = []
            for fp, entry in firing.items():
                if not entry:
                    continue
                w = entry["warning"]
                if district and w["scope"].get("district_id") != district:
                    continue
                if severity and w["severity"] != severity:
                    continue
                if rule and w["rule_id"] != rule:
                    continue
                out.append({**w, "acknowledged": entry.get("ack") is not None, "ack": entry.get("ack")})
            out.sort(key=lambda w: w["changed_at"], reverse=True)
            return self.json({"count": len(out), "warnings": out})

    @app.page("/api/warnings/{fingerprint}/ack")
    class Acknowledge(View):
        async def post(self, request: Request, fingerprint: str) -> Response:
            token = token_of()
            given = request.headers.get("Authorization", "")
            if token is None:
                return self.error(403, "acknowledgements are disabled: no API token is configured")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                metrics.api_refused.labels("unauthorized").inc()
                return self.error(401, "missing or wrong bearer token")
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
                ack = WarningAck.model_validate({
                    "ack_id": data.get("ack_id") or uuid.uuid4().hex,
                    "fingerprint": fingerprint,
                    "acknowledged_by": data.get("acknowledged_by"),
                    "acknowledged_at": data.get("acknowledged_at") or datetime.now(UTC).isoformat(),
                    "note": data.get("note"),
                })
            except (ValueError, ValidationError) as e:
                metrics.api_refused.labels("invalid").inc()
                detail = e.errors()[0] if isinstance(e, ValidationError) else {"msg": str(e)}
                where = ".".join(str(p) for p in detail.get("loc", ())) or "body"
                return self.error(400, f"{where}: {detail['msg']}"[:300])
            await acks_topic.send(key=fingerprint.encode(), value=ack.model_dump_json().encode())
            return self.json({"accepted": True, "ack_id": ack.ack_id, "fingerprint": fingerprint}, status=202)
