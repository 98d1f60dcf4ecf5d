#!/usr/bin/env bash
# The main job on a fresh machine: a local Kafka broker, the worker, and a
# simulated utility (five districts) living through a storm, in accelerated
# event time; warning state changes are printed as they are published.
#   deploy/demo.sh [SCENARIO] [SPEED]     default: storm 7200 (two hours a second, about a minute)
# Scenarios: storm crew_shortage late_notices short_notice bankrupt_customer
# complaint_surge staff_complaints skipped_followups meter_tamper baseline
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
SCENARIO="${1:-storm}"
SPEED="${2:-7200}"
mkdir -p var
PORT="${RISK_WEB_PORT:-6066}"
# Reads and acknowledgements need a token: fresh ones each run, printed here for the board.
RISK_API_READ_TOKEN="demo-read-$($PY -c 'import secrets; print(secrets.token_hex(12))')"
RISK_API_TOKEN="demo-ack-$($PY -c 'import secrets; print(secrets.token_hex(12))')"
export RISK_API_READ_TOKEN RISK_API_TOKEN
echo "board:    http://127.0.0.1:${PORT}/board   sign in with the read token $RISK_API_READ_TOKEN"
echo "          (to acknowledge, when the board asks: $RISK_API_TOKEN)"
echo "API:      curl -H 'Authorization: Bearer $RISK_API_READ_TOKEN' http://127.0.0.1:${PORT}/api/warnings"
echo "metrics:  http://127.0.0.1:${PORT}/metrics"

eval "$(deploy/kafka.sh start | grep '^KAFKA_BOOTSTRAP=')"
export KAFKA_BOOTSTRAP
run="demo-$(date +%s)"  # a fresh app and topics each run: no earlier run's state
export RISK_CLOCK=event RISK_TICK_SECONDS=0.5 RISK_EVENT_CLOCK_IDLE_SECONDS=3
export RISK_APP_ID="risk-warnings-$run" RISK_DATA_DIR="var/$run"
for t in OUTAGE_EVENTS REPAIR_TICKETS BILLING_EVENTS SERVICE_EVENTS RISK_WARNINGS RISK_NOTIFICATIONS WARNING_ACKS DEAD_LETTERS; do
  name=$(echo "$t" | tr 'A-Z_' 'a-z-')
  export "RISK_TOPICS__$t=$name-$run"
done

$PY -m service sim simulate --scenario "$SCENARIO" --seed 7 --out-events "var/$run-events.jsonl" \
  --out-truth "var/$run-truth.json"
$PY - "$SCENARIO" "var/$run-districts.yaml" <<'PYEOF'
import sys, yaml
from service.sim.scenarios import build
yaml.safe_dump(build(sys.argv[1], 7).reference, open(sys.argv[2], "w"), allow_unicode=True)
PYEOF
export RISK_DISTRICTS_FILE="var/$run-districts.yaml"
echo "warnings: topic ${RISK_TOPICS__RISK_WARNINGS} (kcat -b $KAFKA_BOOTSTRAP -t ${RISK_TOPICS__RISK_WARNINGS})"


pids=()
stop() {
  trap - INT TERM
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo
  echo "stopped the worker and the demo. The Kafka broker keeps running for the next demo: stop it with"
  echo "  make stop        (or deploy/kafka.sh stop)"
  exit 0
}
trap stop INT TERM
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

$PY -m service topics >/dev/null 2>>"var/$run-worker.log"
$PY -m service worker >"var/$run-worker.log" 2>&1 &
pids+=($!)
echo "worker:   starting (log: var/$run-worker.log)"
for _ in $(seq 1 120); do grep -q "Ready" "var/$run-worker.log" 2>/dev/null && break; sleep 0.5; done
$PY -m service watch --hold 4 2>>"var/$run-watch.log" &
watcher=$!
pids+=($watcher)
echo "stream:   scenario '$SCENARIO' at ${SPEED}x event time (ground truth: var/$run-truth.json)"
echo
$PY -m service sim produce --events "var/$run-events.jsonl" --speed "$SPEED" >/dev/null 2>>"var/$run-producer.log" &
producer=$!
pids+=($producer)
wait "$producer"
sleep 10  # let the idle partitions release the clock and the last windows close
kill -USR1 "$watcher" 2>/dev/null || true
sleep 1
echo "the stream has ended ($(grep -c '' "var/$run-events.jsonl") events). The worker, the board and the metrics"
echo "keep running: http://127.0.0.1:${PORT}/board. Ctrl-C stops them."
wait "$watcher" || true
