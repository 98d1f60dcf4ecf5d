"""The live warning board, on the worker's own web server.

  GET /board                    the page (service/static/board.html, .css, .js; no CDN, no network)
  GET /board/static/{name}      its script and style sheet
  GET /board/events             server-sent events: every warning state change, acknowledgement changes
  GET /board/history            the last 24 hours of state changes, for the page's timeline

The feed. Every replica runs its own group-less aiokafka consumer on the
warnings topic (no consumer group, so no rebalances and no committed
offsets; it never competes with the Faust consumer). At start it seeks to
the offsets of 24 hours ago to fill the timeline history, then follows the
topic and broadcasts each message to the SSE clients connected to this
replica. So a page on any replica sees state changes published by every
replica, and app.py's publish() needs no hook.

Acknowledgements are not on the warnings topic: they live in the `firing`
GlobalTable, which every replica holds. A periodic diff of the table's ack
entries (every `ACK_SCAN_SECONDS`) sends an `ack` event. The page also
reconciles against GET /api/warnings every 30 s and after every reconnect,
so a client that missed events (slow client dropped, replica restarted)
converges without a reload.

Slow clients: each has a bounded queue; one that falls `QUEUE_LIMIT` events
behind is disconnected (EventSource reconnects and resyncs) instead of
growing the worker's memory.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from pathlib import Path
from typing import Any

import faust
from aiohttp import web as aioweb

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
STATIC_FILES = {"board.js": "text/javascript", "board.css": "text/css", "board.html": "text/html"}
HISTORY_SECONDS = 24 * 3600.0
HISTORY_LIMIT = 50_000  # state changes kept for the timeline
QUEUE_LIMIT = 10_000  # events a client may fall behind before it is disconnected
HEARTBEAT_SECONDS = 15.0
ACK_SCAN_SECONDS = 1.0
FEED_RETRY_SECONDS = 5  # the feed failed (e.g. the broker was away when it started): try again
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
    """Connected SSE clients, and the recent state changes."""

    def __init__(self) -> None:
        self.clients: set[Client] = set()
        self.history: deque[dict] = deque(maxlen=HISTORY_LIMIT)
        self._seen_ids: set[str] = set()
        self.closed = False

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
        self.history.append(timeline_entry(warning))
        self._send(f"event: warning\ndata: {json.dumps(warning, ensure_ascii=False)}\n\n")

    def broadcast_ack(self, fingerprint: str, ack: dict | None) -> None:
        self._send("event: ack\ndata: "
                   + json.dumps({"fingerprint": fingerprint, "ack": ack}, ensure_ascii=False) + "\n\n")

    def recent(self, now: float) -> list[dict]:
        cutoff = now - HISTORY_SECONDS
        out = []
        for e in self.history:
            try:
                t = _parse_ts(e["changed_at"])
            except (TypeError, ValueError, KeyError):
                continue
            if t >= cutoff:
                out.append(e)
        return out

    def close(self) -> None:
        self.closed = True
        for c in list(self.clients):
            try:
                c.queue.put_nowait(None)
            except asyncio.QueueFull:
                pass
        self.clients.clear()


def _parse_ts(s: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def install(app: faust.App, firing_table, warnings_topic_name: str, settings) -> Board:
    """Add the board's pages and its feed to the app; returns the Board (also `app.board`).

    Installing twice on one app is a no-op returning the first Board.
    """
    existing = getattr(app, "board", None)
    if isinstance(existing, Board):
        return existing
    board = Board()
    app.board = board

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

    @app.page("/board/history")
    async def board_history(web, request):
        return web.json({"since": time.time() - HISTORY_SECONDS, "changes": board.recent(time.time())})

    @app.page("/board/events")
    async def board_events(web, request):
        resp = aioweb.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no", "X-Content-Type-Options": "nosniff"})
        await resp.prepare(request)
        client = Client()
        board.clients.add(client)
        try:
            await resp.write(b"retry: 1000\nevent: hello\ndata: {}\n\n")
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
                await resp.write("".join(parts).encode())
                if client.dropped:
                    break
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            board.clients.discard(client)
        return resp

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
                await consumer._client.force_metadata_update()  # topic just created
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
