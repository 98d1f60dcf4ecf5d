"""A screenshot of the board during the demo itself, for the README and docs/board.md.

    KAFKA_BOOTSTRAP=127.0.0.1:9092 .venv/bin/python -m tests.e2e.screenshot_demo [--out docs/board.png]

Runs `deploy/demo.sh` (the storm scenario at 7200x on the event clock; with
KAFKA_BOOTSTRAP set it uses that broker, else it starts the local one), reads
the board's URL and read token from its first lines, signs in through the
page in headless Debian Chromium (Selenium), waits until the storm banner is
on and cards are shown, one of them held back, saves the screenshot, then
stops the demo with SIGINT, as Ctrl-C would. Needs what the browser test
needs (tests/e2e/test_board_e2e.py): chromium, chromium-driver, selenium.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.e2e.harness import ROOT, free_port

BOARD_LINE = re.compile(r"board:\s+(http://\S+/board)\s+sign in with the read token (\S+)")
READY = ("const b = window.__board; if (!b || document.getElementById('storm').hidden) return null;"
         "const shown = [...b.cards.values()].filter(c => !c.el.hidden);"
         "return shown.length >= arguments[0] && shown.some(c => c.w.suppressed) ? shown.length : null;")


def wait_for(browser, script, *args, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = browser.execute_script(script, *args)
        if value:
            return value
        time.sleep(0.2)
    raise SystemExit(f"screenshot_demo: timed out waiting for {what}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "board.png"), help="where the PNG goes")
    ap.add_argument("--port", type=int, default=0, help="the demo's web port (default: a free one)")
    ap.add_argument("--cards", type=int, default=6, help="cards shown before the screenshot is taken")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds to wait once it is ready")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=1000)
    ap.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds")
    args = ap.parse_args(argv)

    from tests.e2e.test_board_e2e import chromium_driver

    env = {**os.environ, "RISK_WEB_PORT": str(args.port or free_port())}
    demo = subprocess.Popen(["deploy/demo.sh"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    found: dict[str, str] = {}
    got_url = threading.Event()
    output: list[str] = []

    def read_output() -> None:
        for line in demo.stdout:
            output.append(line)
            m = BOARD_LINE.search(line)
            if m and not got_url.is_set():
                found["url"], found["token"] = m.group(1), m.group(2)
                got_url.set()

    threading.Thread(target=read_output, daemon=True).start()
    browser = None
    try:
        if not got_url.wait(60):
            raise SystemExit("screenshot_demo: the demo printed no board URL:\n" + "".join(output))
        with tempfile.TemporaryDirectory() as profile:
            browser = chromium_driver(Path(profile), args.width, args.height)
            deadline = time.time() + 120
            while True:  # the worker's web server comes up a little after the URL is printed
                try:
                    browser.get(found["url"])
                    if browser.execute_script("return !!document.getElementById('login-dialog')"):
                        break
                except Exception:
                    pass
                if time.time() > deadline or demo.poll() is not None:
                    raise SystemExit("screenshot_demo: the board never answered:\n" + "".join(output))
                time.sleep(1)
            wait_for(browser, "return document.getElementById('login-dialog').open", timeout=60,
                     what="the sign-in dialog")
            browser.find_element("id", "login-token").send_keys(found["token"])
            browser.find_element("id", "login-submit").click()
            shown = wait_for(browser, READY, args.cards, timeout=args.timeout,
                             what="the storm banner and cards (one held back)")
            time.sleep(args.settle)
            browser.execute_script("window.scrollTo(0, 0)")
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(args.out)
            clock = browser.execute_script("return new Date(window.__board.serviceNow()).toISOString()")
            print(f"screenshot_demo: {args.out} ({shown} cards shown, service clock {clock})")
            browser.quit()
            browser = None
    finally:
        if browser is not None:
            browser.quit()
        if demo.poll() is None:
            os.kill(demo.pid, signal.SIGINT)  # as Ctrl-C: the demo stops what it started
            try:
                demo.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
