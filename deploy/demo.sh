#!/usr/bin/env bash
# The main job on a fresh machine: a local Kafka broker, the worker, and a
# small realistic event stream in accelerated event time; warning state
# changes are printed as they are published. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
mkdir -p var

eval "$(deploy/kafka.sh start | grep '^KAFKA_BOOTSTRAP=')"
export KAFKA_BOOTSTRAP
export RISK_CLOCK=event RISK_TICK_SECONDS=0.5 RISK_EVENT_CLOCK_IDLE_SECONDS=2
export RISK_APP_ID="${RISK_APP_ID:-risk-warnings-demo}" RISK_DATA_DIR=var/demo-worker
export RISK_DISTRICTS_FILE="${RISK_DISTRICTS_FILE:-deploy/demo/districts.yaml}"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

$PY -m service topics
$PY -m service worker >var/demo-worker.log 2>&1 &
pids+=($!)
echo "worker started (log: var/demo-worker.log, metrics: http://127.0.0.1:6066/metrics)"
for _ in $(seq 1 120); do
  grep -q "Ready" var/demo-worker.log 2>/dev/null && break
  sleep 0.5
done
$PY -m service follow &
pids+=($!)
sleep 1
$PY -m service demo "$@"
sleep 8  # let the last ticks close the stream's open deadlines
echo "dead letters so far:"
$PY - <<'PYEOF'
import json, os
from kafka import KafkaConsumer
c = KafkaConsumer("dead-letters", bootstrap_servers=os.environ["KAFKA_BOOTSTRAP"], auto_offset_reset="earliest",
                  group_id=None, consumer_timeout_ms=2000)
for r in c:
    d = json.loads(r.value)
    print(f"  {d['reason']:<14} {d['detail'][:100]}")
PYEOF
