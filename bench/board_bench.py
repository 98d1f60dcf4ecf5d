"""The warning board with 1000 firing warnings, in headless Chromium.

    .venv/bin/python bench/board_bench.py [--warnings 1000] [--changes 100] [--screenshot docs/board-1000.png]

Starts the real worker (tests/e2e/board_worker.py, wall clock) against the
broker (KAFKA_BOOTSTRAP or deploy/kafka.sh), produces N backdated overdue
tickets across 6 districts (yellow, orange and red), waits until
GET /api/warnings lists N, then opens /board and measures:

- first render: navigation start -> the snapshot of N warnings fetched and
  its cards in the DOM (performance.now() in the page, whose origin is the
  navigation start), and -> the next frame painted; plus the part spent
  building the cards (JS only);
- N state changes applied live: a batch of `--changes` ticket.arrived
  (resolutions: cards removed) and then a batch of `--changes` new overdue
  tickets (raises: cards added), each from the first Kafka send to the moment
  the page holds the expected number of cards (polled every 20 ms, so the
  end-to-end number includes Kafka, the worker's tick and the SSE hop), and
  the page's own JS time applying them (sum of its per-frame flushes);
- the cost of the live "firing for" ticker (one pass over every card) and of
  a filter change over all cards, each followed by a forced layout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.board_worker import BoardDeployment  # noqa: E402
from tests.e2e.test_worker_e2e import MIN, ticket  # noqa: E402

DISTRICTS = ["north", "south", "east", "west", "harbour", "hills"]


def bootstrap() -> str:
    if os.environ.get("KAFKA_BOOTSTRAP"):
        return os.environ["KAFKA_BOOTSTRAP"]
    out = subprocess.run([str(ROOT / "deploy" / "kafka.sh"), "start"], capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        if line.startswith("KAFKA_BOOTSTRAP="):
            return line.split("=", 1)[1].strip()
    return "127.0.0.1:9092"


READ_TOKEN = "board-bench-read-token"  # reads need a credential (service/auth.py)


def firing_count(port: int) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/warnings?rule=repair.arrival_overdue",
                                 headers={"Authorization": f"Bearer {READ_TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())["count"]


def wait_until(fn, timeout: float, what: str, every: float = 0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(every)
    raise SystemExit(f"timed out: {what}")


def cpu_percent(pid: int, seconds: float) -> float:
    def ticks():
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    a = ticks()
    time.sleep(seconds)
    return (ticks() - a) / os.sysconf("SC_CLK_TCK") / seconds * 100


def produce_tickets(d, ids, now):
    for i, tid in enumerate(ids):
        # 36..100 min old: yellow (36-45), orange (45-90), red (90+) for an urban 45-min limit
        age = (36.5 + (i * 7.3) % 63) * MIN
        body = ticket(f"{tid}-c", "ticket.created", now - age, tid, district_id=DISTRICTS[i % len(DISTRICTS)],
                      area_type="urban", category="no_power", priority="normal")
        d.producer.send(d.topics["repair_tickets"], key=tid.encode(), value=json.dumps(body).encode())
    d.producer.flush()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warnings", type=int, default=1000)
    ap.add_argument("--changes", type=int, default=100)
    ap.add_argument("--screenshot", default=None)
    args = ap.parse_args()
    n, k = args.warnings, args.changes

    from tests.e2e.test_board_e2e import chromium_driver

    tmp = Path(tempfile.mkdtemp(prefix="board-bench-"))
    d = BoardDeployment(bootstrap(), tmp, {"RISK_CLOCK": "wall", "RISK_TICK_SECONDS": "0.5",
                                          "RISK_API_READ_TOKEN": READ_TOKEN})
    browser = None
    try:
        d.start_worker()
        d.wait_ready()
        ids = [f"TB{i:05d}" for i in range(n)]
        t0 = time.time()
        produce_tickets(d, ids, time.time())
        wait_until(lambda: firing_count(d.port) >= n, 300, f"{n} warnings firing", every=0.5)
        print(f"worker: {n} warnings firing {time.time() - t0:.1f} s after producing {n} tickets")

        print(f"worker CPU while idle with {n} firing: {cpu_percent(d.proc.pid, 5):.0f} % of one core")

        browser = chromium_driver(tmp, 1600, 1000)
        for attempt in ("cold", "reload"):  # the second load has the browser's caches warm
            if attempt == "cold":
                browser.get(f"http://127.0.0.1:{d.port}/board")
                wait_until(lambda: browser.execute_script("return document.getElementById('login-dialog').open"),
                           30, "the sign-in form")
                browser.find_element("id", "login-token").send_keys(READ_TOKEN)
                browser.find_element("id", "login-submit").click()
            else:
                browser.refresh()
            wait_until(lambda: browser.execute_script("return window.__board.metrics.firstPaintedMs || 0"), 60, "render")
            m = browser.execute_script("return window.__board.metrics")
            cards = browser.execute_script("return document.querySelectorAll('.card').length")
            assert cards == n, cards
            print(f"first render of {cards} cards ({attempt}): {m['firstRenderMs']:.0f} ms from navigation start, "
                  f"next frame painted at {m['firstPaintedMs']:.0f} ms; building the cards: {m['firstRenderApplyMs']:.0f} ms JS")
        if args.screenshot:
            browser.save_screenshot(args.screenshot)

        def live(batch_label, expected, produce):
            before = browser.execute_script("return Object.assign({}, window.__board.metrics)")
            start = time.time()
            produce()
            api_at = [None]

            def done():
                if api_at[0] is None and firing_count(d.port) == expected:
                    api_at[0] = time.time()
                return browser.execute_script("return document.querySelectorAll('.card').length") == expected

            wait_until(done, 120, batch_label)
            seen = time.time()
            if api_at[0] is None:
                api_at[0] = wait_until(lambda: firing_count(d.port) == expected and time.time(), 30, "api")
            after = browser.execute_script("return Object.assign({}, window.__board.metrics)")
            applied_at = after["lastAppliedAt"] / 1000.0
            print(f"{k} {batch_label}: on the page {seen - start:.2f} s after the first send "
                  f"(last frame applied at +{applied_at - start:.2f} s; worker's firing table/API at "
                  f"+{api_at[0] - start:.2f} s); page JS applying them: "
                  f"{after['flushMs'] - before['flushMs']:.1f} ms in {after['flushes'] - before['flushes']} frames")

        def resolve():
            for tid in ids[:k]:
                body = ticket(f"{tid}-a", "ticket.arrived", time.time(), tid, crew_id="C1")
                d.producer.send(d.topics["repair_tickets"], key=tid.encode(), value=json.dumps(body).encode())
            d.producer.flush()

        live("resolutions (cards removed)", n - k, resolve)
        live("raises (cards added)", n, lambda: produce_tickets(d, [f"TN{i:05d}" for i in range(k)], time.time()))

        tick = browser.execute_script(
            "const t0 = performance.now(); window.__board.tickAges(); document.body.offsetHeight;"
            "return performance.now() - t0")
        filt = browser.execute_script(
            "const s = document.getElementById('f-district'); const t0 = performance.now();"
            "s.value = 'north'; s.dispatchEvent(new Event('change')); document.body.offsetHeight;"
            "const t1 = performance.now(); s.value = ''; s.dispatchEvent(new Event('change'));"
            "document.body.offsetHeight; return [t1 - t0, performance.now() - t1]")
        print(f"'firing for' ticker over {n} cards + layout: {tick:.1f} ms per second; "
              f"filter district=north: {filt[0]:.1f} ms, back to all: {filt[1]:.1f} ms")
        return 0
    finally:
        if browser is not None:
            browser.quit()
        d.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
