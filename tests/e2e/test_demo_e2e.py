"""`deploy/demo.sh`, the README's first command, run as a user runs it: the stream ends,
the worker stays up with its table printed, and Ctrl-C stops what the demo started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request

import pytest

from .harness import ROOT, free_port

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def test_the_demo_stays_up_after_its_stream_and_stops_cleanly_on_ctrl_c(kafka_bootstrap, tmp_path):
    port = free_port()
    out_path = tmp_path / "demo.out"
    env = {**os.environ, "KAFKA_BOOTSTRAP": kafka_bootstrap, "RISK_WEB_PORT": str(port)}
    with open(out_path, "w") as out:
        demo = subprocess.Popen([str(ROOT / "deploy" / "demo.sh"), "late_notices", "100000"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 240
        while "keep running" not in out_path.read_text() and time.time() < deadline:
            assert demo.poll() is None, f"the demo ended by itself:\n{out_path.read_text()[-3000:]}"
            time.sleep(1)
        text = out_path.read_text()
        assert "keep running" in text, text[-3000:]
        assert text.splitlines()[0].startswith(f"board:    http://127.0.0.1:{port}/board ")  # the board first
        assert "rule " in text and "outage.notice_late" in text  # the table per rule
        time.sleep(3)
        assert demo.poll() is None and answers(f"http://127.0.0.1:{port}/healthz")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            assert json.load(r)["status"] == "ok"
        os.kill(demo.pid, signal.SIGINT)  # what Ctrl-C sends the script (its children ignore it)
        assert demo.wait(timeout=60) == 0
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
    text = out_path.read_text()
    assert "Traceback" not in text, text[-3000:]
    assert "make stop" in text
    assert not answers(f"http://127.0.0.1:{port}/healthz")  # the worker went with it
