"""Shared fixtures: the real Kafka broker and a real worker process.

The broker comes from deploy/kafka.sh (fetched from Maven Central into a
cache, started once per test session) unless KAFKA_BOOTSTRAP names an
existing cluster. Each test that runs a worker gets its own app id and topic
names, so tests never read each other's messages.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    existing = os.environ.get("KAFKA_BOOTSTRAP")
    if existing:
        return existing
    out = subprocess.run([str(ROOT / "deploy" / "kafka.sh"), "start"], capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        pytest.fail(f"deploy/kafka.sh start failed:\n{out.stdout}\n{out.stderr}")
    for line in out.stdout.splitlines():
        if line.startswith("KAFKA_BOOTSTRAP="):
            return line.split("=", 1)[1].strip()
    return "127.0.0.1:9092"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is absent: real-data tests need it")
    return SHARED / "data"
