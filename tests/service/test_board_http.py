"""The board's live feed and history under load, on a real aiohttp server and real sockets
(service/board.py events_response and history_body, service/webcache.py)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import pytest
from aiohttp import web

from service import board as board_module
from service.board import Board, events_response, history_body
from service.privacy import Pseudonyms
from service.webcache import CachedBody


async def serve(b: Board):
    async def handler(request):
        return await events_response(b, request)

    app = web.Application()
    app.router.add_get("/board/events", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, port


async def open_stream(port: int, rcvbuf: int | None = None):
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
    writer.write(b"GET /board/events HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    return reader, writer


async def until(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.05)


def warning(i: int, summary: str = "x") -> dict:
    return {"warning_id": f"{i:032x}-1", "fingerprint": f"{i:032x}", "rule_id": "repair.arrival_overdue",
            "severity": "red", "status": "firing", "transition": "raised",
            "changed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "scope": {"district_id": "north"},
            "summary": summary, "summary_zh": summary}


async def test_a_client_that_never_reads_is_dropped_and_the_others_keep_their_feed():
    b = Board(max_clients=10, write_timeout=0.5)
    runner, port = await serve(b)
    try:
        stalled_reader, stalled = await open_stream(port, rcvbuf=4096)  # reads nothing, ever
        reader, healthy = await open_stream(port)
        await until(lambda: len(b.clients) == 2)
        assert (await reader.readuntil(b"event: hello\ndata: ")).startswith(b"HTTP/1.1 200")
        got = []

        async def read_healthy():
            while True:
                line = await reader.readline()
                if not line:
                    return
                if line.startswith(b"event: warning"):
                    got.append(line)

        consumer = asyncio.ensure_future(read_healthy())
        big = "y" * 20_000
        i = 0
        # A few MB: far more than the stalled client's socket buffers and aiohttp's write buffer hold.
        while b.stalled == 0:
            for _ in range(20):
                i += 1
                b.broadcast(warning(i, big))
            await asyncio.sleep(0.02)
            assert i < 20_000, "the stalled client was never dropped"
        await until(lambda: len(b.clients) == 1)
        # and its connection is closed by the server, not held by a handler waiting for ever
        closed = False
        try:
            while await asyncio.wait_for(stalled_reader.read(1 << 20), 20):
                pass
            closed = True  # EOF
        except ConnectionResetError:
            closed = True  # aborted: unsent data thrown away
        assert closed
        sent = i
        await until(lambda: len(got) == sent)  # the reading client got every change
        consumer.cancel()
        stalled.close()
        healthy.close()
    finally:
        b.close()
        await runner.cleanup()


async def test_connections_beyond_the_cap_get_503(monkeypatch):
    monkeypatch.setattr(board_module, "HEARTBEAT_SECONDS", 0.2)  # a closed connection is noticed at a write
    b = Board(max_clients=2, write_timeout=5)
    runner, port = await serve(b)
    try:
        streams = [await open_stream(port) for _ in range(2)]
        await until(lambda: len(b.clients) == 2)
        reader, writer = await open_stream(port)
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503") and b"Retry-After" in head
        writer.close()
        for _, w in streams:
            w.close()
        await until(lambda: len(b.clients) == 0)
        reader, writer = await open_stream(port)  # room again
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        writer.close()
    finally:
        b.close()
        await runner.cleanup()


def test_history_body_is_bounded_and_keeps_the_newest(monkeypatch):
    monkeypatch.setattr(board_module, "HISTORY_BODY_MAX", 1000)
    monkeypatch.setattr(board_module, "HISTORY_FULL", 10)
    b = Board()
    for i in range(5000):
        b.broadcast(warning(i, "a long summary " * 20))
    body = json.loads(history_body(list(b.history), time.time()))
    assert body["truncated"] is True and len(body["changes"]) == 1000
    assert body["changes"][-1]["warning_id"] == f"{4999:032x}-1"  # the newest kept
    assert sum(1 for e in body["changes"] if "summary" in e) == 10  # only the newest carry their texts


def test_the_board_keeps_pseudonymised_changes():
    b = Board(Pseudonyms(b"k" * 32))
    w = {**warning(1, "Account A1 owes 1 CNY"), "scope": {"district_id": "north", "account_id": "A1"}}
    b.broadcast(w)
    assert "A1" not in json.dumps(list(b.history)) and w["scope"]["account_id"] == "A1"


async def test_a_cached_body_is_built_once_for_concurrent_requests_in_another_thread():
    loop_thread = threading.get_ident()
    threads = []

    def build(snapshot):
        threads.append(threading.get_ident())
        time.sleep(0.05)
        return json.dumps(snapshot).encode()

    now = [0.0]
    cache = CachedBody(lambda: [1, 2, 3], build, max_age=5.0, clock=lambda: now[0])
    bodies = await asyncio.gather(*(cache.get() for _ in range(50)))
    assert set(bodies) == {b"[1, 2, 3]"} and cache.builds == 1 and threads[0] != loop_thread
    await cache.get()
    assert cache.builds == 1
    now[0] = 6.0
    await cache.get()
    assert cache.builds == 2


@pytest.mark.parametrize("n", [1])
def test_broadcast_serialises_once_per_change_not_per_client(n):
    b = Board()
    clients = [board_module.Client() for _ in range(3)]
    b.clients.update(clients)
    b.broadcast(warning(n))
    frames = [c.queue.get_nowait() for c in clients]
    assert frames[0] is frames[1] is frames[2]


MARCH = 1773130800.0  # 2026-03-10T08:20:00Z: a replay's event time, months before the wall clock


def change_at(i: int, ts: float) -> dict:
    return {**warning(i), "changed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))}


def test_the_history_is_the_last_24_hours_of_the_service_clock_not_of_wall_time():
    b = Board(clock=lambda: MARCH, clock_mode="event")
    b.broadcast(change_at(1, MARCH - 30 * 3600))  # a day and more before the replay's now
    b.broadcast(change_at(2, MARCH - 3600))
    b.broadcast(change_at(3, MARCH))
    assert b.now() == MARCH
    assert [e["warning_id"] for e in b.recent()] == [f"{2:032x}-1", f"{3:032x}-1"]
    body = json.loads(history_body(list(b.history), b.now()))
    assert body["clock"] == MARCH and body["since"] == MARCH - 24 * 3600
    assert [e["warning_id"] for e in body["changes"]] == [f"{2:032x}-1", f"{3:032x}-1"]


def test_an_unknown_clock_is_none_and_the_history_then_ends_at_the_newest_change():
    b = Board(clock=lambda: 0.0, clock_mode="event")  # the worker's clock gauge before its first tick
    assert b.now() is None and b.clock_body() == {"clock": None, "mode": "event"}
    b.broadcast(change_at(1, MARCH - 3600))
    body = json.loads(history_body(list(b.history), b.now()))
    assert body["clock"] is None and len(body["changes"]) == 1
    assert Board().now() == pytest.approx(time.time(), abs=60)  # no getter: wall time


def test_the_clock_goes_to_every_client_only_when_it_moved():
    now = [MARCH]
    b = Board(clock=lambda: now[0], clock_mode="event")
    client = board_module.Client()
    b.clients.add(client)
    assert b.send_clock() is True
    frame = client.queue.get_nowait()
    assert frame.startswith("event: clock\n") and json.loads(frame.split("data: ", 1)[1]) == {
        "clock": MARCH, "mode": "event"}
    assert b.send_clock() is False and client.queue.empty()  # a replay that paused: nothing to say
    now[0] += 7200
    assert b.send_clock() is True
    assert json.loads(client.queue.get_nowait().split("data: ", 1)[1])["clock"] == MARCH + 7200


async def test_the_feed_says_the_service_clock_on_connecting():
    b = Board(clock=lambda: MARCH, clock_mode="event")
    runner, port = await serve(b)
    try:
        reader, writer = await open_stream(port)
        await reader.readuntil(b"\r\n\r\n")
        hello = (await reader.readuntil(b"\n\n")).decode()
        assert "event: hello" in hello
        assert json.loads(hello.split("data: ", 1)[1]) == {"clock": MARCH, "mode": "event"}
        writer.close()
    finally:
        b.close()
        await runner.cleanup()


def test_the_firing_list_carries_the_clock_it_was_read_at():
    from service.api import filtered, firing_list

    entry = {"warning": {**change_at(1, MARCH), "scope": {"district_id": "east"}}, "ack": None}
    warnings, body = firing_list([("fp", entry)], Pseudonyms(b"", enabled=False), MARCH)
    assert json.loads(body)["clock"] == MARCH
    assert json.loads(filtered(warnings, "east", None, None, MARCH)) == json.loads(body)
