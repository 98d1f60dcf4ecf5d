#!/usr/bin/env bash
# The dashboard's numbers without Docker: Debian's Prometheus (apt-get install prometheus)
# scraping a worker on this machine, e.g. the one `make demo` runs, with the service's
# alert rules. Runs in the foreground until Ctrl-C; data in var/prometheus.
#   deploy/prometheus.sh [WORKER_HOST:PORT]      default 127.0.0.1:6066; UI on http://127.0.0.1:9090
#   deploy/prometheus.sh --check [TARGET]        only write and check the configuration (promtool)
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
if [[ "${1:-}" == "--check" ]]; then check=1; shift; fi
TARGET="${1:-127.0.0.1:6066}"
LISTEN="${PROMETHEUS_LISTEN:-127.0.0.1:9090}"
for tool in prometheus promtool; do
  command -v "$tool" >/dev/null || { echo "needs $tool: apt-get install prometheus" >&2; exit 1; }
done
dir=var/prometheus
mkdir -p "$dir/tsdb"
cp deploy/prometheus/alerts.yml "$dir/alerts.yml"
# deploy/prometheus/prometheus.yml with the compose service's DNS discovery replaced by the target
cat >"$dir/prometheus.yml" <<YAML
global:
  scrape_interval: 5s
  evaluation_interval: 5s
rule_files:
  - alerts.yml
scrape_configs:
  - job_name: risk-warnings
    metrics_path: /metrics
    static_configs:
      - targets: ["${TARGET}"]
YAML
promtool check config "$dir/prometheus.yml" >&2
[[ "$check" == 1 ]] && exit 0
echo "Prometheus on http://${LISTEN} scraping http://${TARGET}/metrics every 5 s (Ctrl-C stops it)."
echo "Try: risk_warnings_firing, sum by (rule) (rate(risk_warnings_published_total[5m])), ALERTS"
exec prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/tsdb" \
  --web.listen-address="$LISTEN" --log.level=warn
