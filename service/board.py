"""The live warning board, on the worker's own web server.

  GET  /board                   the page (service/static/board.html, .css, .js; no CDN, no network)
  GET  /board/static/{name}     its script and style sheet
  POST /board/login             a token (Authorization: Bearer) -> the board's session cookie
  POST /board/logout            ends it (with the session cookie)
  GET  /board/whoami            the credential's role and person (behind a proxy adding the token)
  GET  /board/events            server-sent events: every warning state change, acknowledgement changes,
                                the service clock
  GET  /board/history           the last 24 hours (of the service clock) of state changes, for the timeline

Access. The page and its script and style sheet are open: they are code,
carry no data, and must load to show the login form. Everything with data
(`/board/events`, `/board/history`, and `/api/warnings` which the page reads)
needs a credential (service/auth.py): a bearer token, or the session cookie
that `/board/login` sets after checking one, since the browser's EventSource
cannot send an Authorization header. Account and staff ids are pseudonymised
in everything the board sends (service/privacy.py), unless `show_personal_ids`.

The feed. Every replica runs its own group-less aiokafka consumer on the
warnings topic (no consumer group, so no rebalances and no committed
offsets; it never competes with the Faust consumer). At start it seeks to
the offsets of 24 hours ago to fill the timeline history, then follows the
topic and broadcasts each message to the SSE clients connected to this
replica. So a page on any replica sees state changes published by every
replica, and the publisher (service/worker/publish.py) needs no hook.

Acknowledgements are not on the warnings topic: they live in the `firing`
GlobalTable, which every replica holds. A periodic diff of the table's ack
entries (every `ACK_SCAN_SECONDS`) sends an `ack` event. The page also
reconciles against GET /api/warnings every 30 s and after every reconnect,
so a client that missed events (slow client dropped, replica restarted)
converges without a reload.

Limits. At most `board_max_clients` live-feed connections per worker (more
get 503 and retry later). Each client has a bounded queue; one that falls
`QUEUE_LIMIT` events behind is disconnected (EventSource reconnects and
resyncs) instead of growing the worker's memory, and one that does not take
a write within `board_write_timeout_seconds` (a stalled reader, its socket
buffers full) is disconnected instead of holding its handler for ever. The
history body is built in a thread from a snapshot and reused for
`HISTORY_CACHE_SECONDS`, at most `HISTORY_BODY_MAX` changes (the newest
`HISTORY_FULL` with their summaries).

The clock. Ages ("firing for") and the timeline's 24 hours are measured on
the service's clock, not the browser's: wall time on a live worker, the
event-time watermark on a replay (a stream dated months ago is hours old on
its own clock). app.py passes a getter for the worker's clock (what it
exports as risk_clock_seconds on each tick); the history body and the
`hello` event carry it, and a `clock` event follows it every `CLOCK_SECONDS`
when it moved. "Last 24 hours" of the history is selected on it too. The
feed's start-up seek stays on wall time: Kafka record timestamps are when a
record was published, so it selects records, and the clock filters them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faust
from aiohttp import web as aioweb

from . import metrics
from .auth import COOKIE, Authenticator
from .faust_fixes import force_metadata_update
from .logfilter import escaping_logger
from .privacy import Pseudonyms
from .webcache import CachedBody

log = escaping_logger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
STATIC_FILES = {"board.js": "text/javascript", "board.css": "text/css", "board.html": "text/html"}
HISTORY_SECONDS = 24 * 3600.0
HISTORY_LIMIT = 50_000  # state changes kept for the timeline
QUEUE_LIMIT = 10_000  # events a client may fall behind before it is disconnected
HEARTBEAT_SECONDS = 15.0
ACK_SCAN_SECONDS = 1.0
FEED_RETRY_SECONDS = 5  # the feed failed (e.g. the broker was away when it started): try again
HISTORY_CACHE_SECONDS = 5.0  # the history body is rebuilt at most this often
HISTORY_BODY_MAX = 10_000  # state changes in the history body, newest first kept
HISTORY_FULL = 200  # of which the newest carry their summaries (the page lists 60; the strip needs none)
CLOCK_SECONDS = 1.0  # the service clock goes to the pages this often, when it moved
BUSY_RETRY_SECONDS = 30  # Retry-After of a 503 when the live feed is full
# Same-origin only: every script and style comes from this server, nothing inline.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def timeline_entry(w: dict) -> dict:
    """What the timeline needs of one state change."""
    return {
        "warning_id": w.get("warning_id"), "fingerprint": w.get("fingerprint"), "rule_id": w.get("rule_id"),
        "severity": w.get("severity"), "status": w.get("status"), "transition": w.get("transition"),
        "changed_at": w.get("changed_at"), "district_id": (w.get("scope") or {}).get("district_id"),
        "risk_category": w.get("risk_category"), "summary": w.get("summary"), "summary_zh": w.get("summary_zh"),
    }


class Client:
    __slots__ = ("queue", "dropped")

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=QUEUE_LIMIT)
        self.dropped = False


class Board:
    """Connected SSE clients, and the recent state changes (ids pseudonymised as the settings say)."""

    def __init__(self, pseudonyms: Pseudonyms | None = None, max_clients: int = 100,
                 write_timeout: float = 10.0, clock: Callable[[], float | None] | None = None,
                 clock_mode: str = "wall") -> None:
        self.pseudonyms = pseudonyms or Pseudonyms(b"", enabled=False)
        self.clock = clock if clock is not None else time.time
        self.clock_mode = clock_mode  # "wall" or "event": whether the page may let the clock run between updates
        self._clock_sent: float | None = None
        self.max_clients = max_clients
        self.write_timeout = write_timeout
        self.clients: set[Client] = set()
        self.history: deque[dict] = deque(maxlen=HISTORY_LIMIT)
        self._seen_ids: set[str] = set()
        self.closed = False
        self.stalled = 0  # clients disconnected for not taking a write in time

    def _send(self, frame: str) -> None:
        for c in list(self.clients):
            if c.dropped:
                continue
            try:
                c.queue.put_nowait(frame)
            except asyncio.QueueFull:  # too slow: drop it, it reconnects and resyncs
                c.dropped = True
                self.clients.discard(c)
                while not c.queue.empty():
                    c.queue.get_nowait()
                c.queue.put_nowait(None)

    def broadcast(self, warning: dict) -> None:
        """One warning state change (the topic's JSON body) to every client on this replica.

        Idempotent per warning_id, so calling it from publish() as well as
        from the topic consumer would send each change once.
        """
        wid = warning.get("warning_id")
        if wid:
            if wid in self._seen_ids:
                return
            self._seen_ids.add(wid)
            if len(self._seen_ids) > 2 * HISTORY_LIMIT:
                self._seen_ids = {e["warning_id"] for e in self.history if e.get("warning_id")}
        warning = self.pseudonyms.warning(warning)
        self.history.append(timeline_entry(warning))
        self._send(f"event: warning\ndata: {json.dumps(warning, ensure_ascii=False)}\n\n")

    def broadcast_ack(self, fingerprint: str, ack: dict | None) -> None:
        self._send("event: ack\ndata: "
                   + json.dumps({"fingerprint": fingerprint, "ack": ack}, ensure_ascii=False) + "\n\n")

    def recent(self, now: float | None = None) -> list[dict]:
        """The changes of the last 24 hours of `now` (default: the service clock)."""
        history = list(self.history)
        return recent(history, clock_or_newest(self.now() if now is None else now, history))

    def now(self) -> float | None:
        """The service clock (Unix seconds), or None while it is not known (an event clock that saw nothing)."""
        try:
            value = self.clock()
        except Exception:  # a getter that fails must not take the feed down
            return None
        # the worker's clock gauge reads 0 until its first tick
        return float(value) if isinstance(value, (int, float)) and value > 0 else None

    def clock_body(self) -> dict:
        return {"clock": self.now(), "mode": self.clock_mode}

    def send_clock(self) -> bool:
        """A `clock` event to every client, when the service clock moved since the last one."""
        now = self.now()
        if now is None or now == self._clock_sent:
            return False
        self._clock_sent = now
        self._send(f"event: clock\ndata: {json.dumps({'clock': now, 'mode': self.clock_mode})}\n\n")
        return True

    def close(self) -> None:
        self.closed = True
        for c in list(self.clients):
            try:
                c.queue.put_nowait(None)
            except asyncio.QueueFull:
                pass
        self.clients.clear()


def recent(history: list[dict], now: float) -> list[dict]:
    """The changes of the last 24 hours, oldest first."""
    cutoff = now - HISTORY_SECONDS
    out = []
    for e in history:
        try:
            t = _parse_ts(e["changed_at"])
        except (TypeError, ValueError, KeyError, AttributeError):
            continue
        if t >= cutoff:
            out.append(e)
    return out


def gauge_reader(gauge) -> Callable[[], float | None]:
    """A getter of a prometheus Gauge's value (the worker's clock gauge, set on each tick)."""
    def read() -> float | None:
        for family in gauge.collect():
            for sample in family.samples:
                return sample.value
        return None
    return read


def clock_or_newest(now: float | None, history: list[dict]) -> float:
    """The service clock; while it is unknown, the newest change's time (or wall time without any)."""
    if now is not None:
        return now
    newest = None
    for e in reversed(history):
        try:
            newest = _parse_ts(e["changed_at"])
            break
        except (TypeError, ValueError, KeyError, AttributeError):
            continue
    return newest if newest is not None else time.time()


COMPACT = ("warning_id", "fingerprint", "rule_id", "severity", "status", "transition", "changed_at", "district_id")


def history_body(history: list[dict], clock: float | None) -> bytes:
    """The /board/history body: the last 24 hours of the service clock, at most HISTORY_BODY_MAX changes
    (the newest), and the clock itself (null while unknown)."""
    now = clock_or_newest(clock, history)
    changes = recent(history, now)
    truncated = len(changes) > HISTORY_BODY_MAX
    changes = changes[-HISTORY_BODY_MAX:]
    cut = len(changes) - HISTORY_FULL
    out = [{k: e.get(k) for k in COMPACT} if i < cut else e for i, e in enumerate(changes)]
    return json.dumps({"since": now - HISTORY_SECONDS, "clock": clock, "truncated": truncated, "changes": out},
                      ensure_ascii=False).encode()


def _parse_ts(s: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def refused(status: int, reason: str) -> aioweb.Response:
    metrics.api_refused.labels("unauthorized").inc()
    headers = dict(NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="risk-warnings"'
    return aioweb.json_response({"error": reason}, status=status, headers=headers)


async def events_response(board: Board, request) -> aioweb.StreamResponse:
    """The live feed of one client (authentication done): the stream, until the client goes or lags."""
    if len(board.clients) >= board.max_clients:
        metrics.api_refused.labels("feed_full").inc()
        return aioweb.json_response(
            {"error": f"the live feed is full ({board.max_clients} connections): try again later"},
            status=503, headers={**NO_STORE, "Retry-After": str(BUSY_RETRY_SECONDS)})
    client = Client()
    board.clients.add(client)  # before the first await: the count above holds under concurrency
    resp = aioweb.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no", "X-Content-Type-Options": "nosniff"})

    async def write(data: bytes) -> None:
        # a client that does not read (its socket buffers full) makes write() wait for ever: drop it
        await asyncio.wait_for(resp.write(data), board.write_timeout)

    try:
        await asyncio.wait_for(resp.prepare(request), board.write_timeout)
        await write(f"retry: 1000\nevent: hello\ndata: {json.dumps(board.clock_body())}\n\n".encode())
        while not board.closed:
            try:
                frame = await asyncio.wait_for(client.queue.get(), HEARTBEAT_SECONDS)
            except asyncio.TimeoutError:
                frame = ": keep-alive\n\n"
            if frame is None:
                break
            # coalesce what is already queued into one write
            parts = [frame]
            while not client.queue.empty() and len(parts) < 500:
                nxt = client.queue.get_nowait()
                if nxt is None:
                    client.dropped = True
                    break
                parts.append(nxt)
            await write("".join(parts).encode())
            if client.dropped:
                break
    except asyncio.TimeoutError:  # stalled: close the connection, its unsent data with it
        client.dropped = True
        board.stalled += 1
        transport = request.transport
        if transport is not None:
            transport.abort()
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        board.clients.discard(client)
    return resp


def install(app: faust.App, firing_table, warnings_topic_name: str, settings,
            authenticator: Authenticator | None = None, pseudonyms: Pseudonyms | None = None,
            clock: Callable[[], float | None] | None = None) -> Board:
    """Add the board's pages and its feed to the app; returns the Board (also `app.board`).

    `clock` reads the service clock (Unix seconds, None or 0 while unknown);
    without it, wall time.

    Installing twice on one app is a no-op returning the first Board.
    """
    existing = getattr(app, "board", None)
    if isinstance(existing, Board):
        return existing
    authenticator = authenticator or Authenticator(settings)
    board = Board(pseudonyms or Pseudonyms.from_settings(settings), settings.board_max_clients,
                  settings.board_write_timeout_seconds, clock=clock,
                  clock_mode="event" if getattr(settings, "clock", "wall") == "event" else "wall")
    app.board = board
    history = CachedBody(lambda: (list(board.history), board.now()), lambda s: history_body(*s),
                         HISTORY_CACHE_SECONDS)

    def static_response(name: str) -> aioweb.Response:
        body = (STATIC_DIR / name).read_bytes()
        return aioweb.Response(body=body, content_type=STATIC_FILES[name], charset="utf-8", headers={
            "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-cache", "Referrer-Policy": "no-referrer"})

    @app.page("/board")
    async def board_page(web, request):
        return static_response("board.html")

    @app.page("/board/static/{name}")
    class BoardStatic(faust.web.View):
        async def get(self, request, name: str):
            if name not in STATIC_FILES:
                return self.error(404, "not found")
            return static_response(name)

    @app.page("/board/login")
    class BoardLogin(faust.web.View):
        async def post(self, request):
            """A valid token in the Authorization header -> an HttpOnly, SameSite=Strict session cookie."""
            token = authenticator.token_of(request.headers.get("Authorization"))
            if token is None:
                cred, status, reason = authenticator.check(request, "read")
                return refused(status or 401, reason or "missing or wrong bearer token")
            cred = authenticator.from_header(request.headers.get("Authorization"))
            value, lifetime = authenticator.session_cookie(token)
            resp = aioweb.json_response({"role": cred.role, "person": cred.person}, headers=NO_STORE)
            secure = request.secure or request.headers.get("X-Forwarded-Proto", "") == "https"
            resp.set_cookie(COOKIE, value, max_age=lifetime, path="/", httponly=True, samesite="Strict",
                            secure=secure)
            return resp

    @app.page("/board/whoami")
    async def board_whoami(web, request):
        """What the page may do, and as whom: behind a proxy that adds the token, the page has none."""
        cred, status, reason = authenticator.check(request, "read", cookie_ok=True)
        if cred is None:
            return refused(status, reason)
        via = "header" if authenticator.from_header(request.headers.get("Authorization")) else "cookie"
        who = authenticator.identity(request, cred)[0] if cred.role == "ack" else cred.person
        return aioweb.json_response({"role": cred.role, "person": who, "via": via}, headers=NO_STORE)

    @app.page("/board/logout")
    class BoardLogout(faust.web.View):
        async def post(self, request):
            # only with the session itself (SameSite=Strict: another site cannot sign a display out)
            cred, status, reason = authenticator.check(request, "read", cookie_ok=True)
            if cred is None:
                return refused(status, reason)
            resp = aioweb.json_response({"logged_out": True}, headers=NO_STORE)
            resp.del_cookie(COOKIE, path="/")
            return resp

    @app.page("/board/history")
    async def board_history(web, request):
        cred, status, reason = authenticator.check(request, "read", cookie_ok=True)
        if cred is None:
            return refused(status, reason)
        return aioweb.Response(body=await history.get(), content_type="application/json", headers=NO_STORE)

    @app.page("/board/events")
    async def board_events(web, request):
        cred, status, reason = authenticator.check(request, "read", cookie_ok=True)
        if cred is None:
            return refused(status, reason)
        return await events_response(board, request)

    async def on_web_shutdown(_web_app) -> None:
        board.close()  # let open streams end, so the web server stops without waiting for them

    app.web.web_app.on_shutdown.append(on_web_shutdown)

    @app.task
    async def board_feed() -> None:
        """Follow the warnings topic; if that fails (the broker away at start-up), start again."""
        while not board.closed:
            await follow_warnings()
            await asyncio.sleep(FEED_RETRY_SECONDS)

    async def follow_warnings() -> None:
        """Follow the warnings topic, group-less, from 24 hours ago; broadcast each message."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap.split(","), group_id=None,
            enable_auto_commit=False, auto_offset_reset="latest", client_id=f"{settings.app_id}-board",
            **settings.kafka_security.client_options())
        try:
            await consumer.start()
            parts: set[int] | None = None
            for _ in range(30):
                parts = consumer.partitions_for_topic(warnings_topic_name)
                if parts:
                    break
                await force_metadata_update(consumer)  # topic just created
                await asyncio.sleep(1.0)
            if not parts:
                log.warning("board: topic %s has no partitions; the board gets no live feed", warnings_topic_name)
                return
            tps = [TopicPartition(warnings_topic_name, p) for p in sorted(parts)]
            consumer.assign(tps)
            since_ms = int((time.time() - HISTORY_SECONDS) * 1000)
            offsets = await consumer.offsets_for_times({tp: since_ms for tp in tps})
            for tp in tps:
                found = offsets.get(tp)
                if found is None:
                    await consumer.seek_to_end(tp)
                else:
                    consumer.seek(tp, found.offset)
            log.info("board: following %s (%d partitions)", warnings_topic_name, len(tps))
            while True:
                batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
                for records in batches.values():
                    for r in records:
                        try:
                            w = json.loads(r.value)
                        except (TypeError, ValueError):
                            continue
                        if isinstance(w, dict) and "fingerprint" in w:
                            board.broadcast(w)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("board: the warnings feed stopped; starting it again in %d s", FEED_RETRY_SECONDS)
        finally:
            await consumer.stop()

    @app.task
    async def board_clock() -> None:
        """The service clock to the pages: ages and the timeline are measured on it."""
        while not board.closed:
            board.send_clock()
            await asyncio.sleep(CLOCK_SECONDS)

    @app.task
    async def board_ack_diff() -> None:
        """Acknowledgements are in the firing table, not on the topic: send the changes."""
        known: dict[str, Any] = {}
        first = True
        while not board.closed:
            try:
                current = {fp: entry.get("ack") for fp, entry in firing_table.items() if entry}
                if not first:
                    for fp, ack in current.items():
                        if ack != known.get(fp):
                            board.broadcast_ack(fp, ack)
                known, first = current, False
            except Exception:
                log.exception("board: ack scan failed")
            await asyncio.sleep(ACK_SCAN_SECONDS)

    return board
