"""The dashboard against real data: the real worker runs a small scenario on
the real broker, the real Prometheus scrapes it with deploy/prometheus's
configuration and alert rules, and every PromQL query of the Grafana
dashboard must return data through Prometheus's HTTP API."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from tests.e2e.harness import Deployment, free_port

from .tools import PROMETHEUS_DIR, ROOT, concrete, dashboard_queries, load_dashboard, prometheus_tool

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

MIN, H, D = 60.0, 3600.0, 86400.0

# Metrics whose queries may legitimately return nothing in this scenario. Keep it minimal.
MAY_BE_EMPTY = {
    # SMS notifications are counted only once notifications are wired into the
    # worker (service/core/notify.py); the scenario does not configure them.
    "risk_notifications_total",
}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


class Prometheus:
    """The real Prometheus server scraping one worker every second."""

    def __init__(self, tmp, worker_port: int):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
        config["global"].update(scrape_interval="1s", evaluation_interval="1s")
        config["rule_files"] = [str(PROMETHEUS_DIR / f) for f in config["rule_files"]]
        (job,) = config["scrape_configs"]
        for key in [k for k in job if k.endswith("_sd_configs") or k == "static_configs"]:
            del job[key]
        job["static_configs"] = [{"targets": [f"127.0.0.1:{worker_port}"]}]
        job["scrape_interval"], job["scrape_timeout"] = "1s", "1s"
        self.job = job["job_name"]
        path = tmp / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        self.log_path = tmp / "prometheus.log"
        self.proc = subprocess.Popen(
            [prometheus_tool("prometheus"), f"--config.file={path}", f"--storage.tsdb.path={tmp / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=open(self.log_path, "wb"), stderr=subprocess.STDOUT)

    def api(self, path: str, **params):
        url = f"{self.base}/api/v1/{path}" + ("?" + urllib.parse.urlencode(params) if params else "")
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list:
        return self.api("query", query=expr)["result"]

    def wait_scraping(self, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"prometheus exited {self.proc.returncode}:\n{self.log()}")
            try:
                if any(s["value"][1] == "1" for s in self.query(f'up{{job="{self.job}"}}')):
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"prometheus did not scrape the worker in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def scenario(t: float, wave: int) -> list[tuple[str, str | None, dict | bytes]]:
    """Events (topic field, key, value) that make every metric of the dashboard appear, at event time t.

    Event-time clock: the worker decides deadlines and windows when a later
    event (`push_clock`) moves the watermark. Every windowed observation lies
    within the last minutes of the batch, so none is read after its window was
    decided. The second wave repeats the label sets of the first, so counters
    that first appeared with their value also *increase* while scraped.
    """
    n = iter(range(1, 1000))
    w = f"w{wave}"

    def ev(topic, key, type_, ts, **fields):
        return topic, key, {"event_id": f"{w}-{next(n)}", "type": type_, "occurred_at": iso(ts), **fields}

    def ticket(tid, ts, district, area):
        return ev("repair_tickets", tid, "ticket.created", ts, ticket_id=tid, district_id=district, area_type=area,
                  category="no_power", priority="normal")

    out = [
        # crews that never arrive in north (urban, 45 min): red once the clock moves on - firing
        ticket(f"T-red-{w}", t, "north", "urban"),
        # an unplanned outage in east noticed after 20 min (notice delay), another never noticed (firing)
        ev("outage_events", f"O-late-{w}", "outage.started", t, outage_id=f"O-late-{w}",
           kind="unplanned", district_id="east", feeder_id="F-1", area_type="rural", customers_affected=300),
        ev("outage_events", f"O-late-{w}", "outage.notice_published", t + 20 * MIN, outage_id=f"O-late-{w}",
           channel="sms"),
        ev("outage_events", f"O-none-{w}", "outage.started", t, outage_id=f"O-none-{w}",
           kind="unplanned", district_id="east", feeder_id="F-2", area_type="rural", customers_affected=80),
        # a billing period of east due 9 days before t, so decided 10 days later at the next midnight
        # (t is 06:00 UTC): 900 of 1000 paid
        ev("billing_events", f"A-{w}", "bill.issued", t, account_id=f"A-{w}", bill_id=f"B-{w}",
           district_id="east", customer_class="commercial", amount="1000.00",
           due_date=(datetime.fromtimestamp(t, UTC).date() - timedelta(days=9)).isoformat(),
           period=datetime.fromtimestamp(t, UTC).strftime("%Y-%m")),
        ev("billing_events", f"A-{w}", "payment.received", t + 30 * MIN, account_id=f"A-{w}", bill_id=f"B-{w}",
           amount="900.00"),
        # a bad message
        ("repair_tickets", f"bad-{w}", b"{this is not json"),
    ]
    # crews arriving in hills (remote, under its 120 min limit) after 10 to 50 minutes
    for i in range(6):
        tid = f"T-p90-{w}-{i}"
        arrived = t + 50 * MIN + i * 20
        out.append(ticket(tid, arrived - (10 + 8 * i) * MIN, "hills", "remote"))
        out.append(ev("repair_tickets", tid, "ticket.arrived", arrived, ticket_id=tid))
    # complaints in north
    out += [ev("service_events", "north", "complaint.received", t + 50 * MIN + i * 20, complaint_id=f"K-{w}-{i}",
               district_id="north", category="repair_delay") for i in range(6)]
    return out


def push_clock(t: float, wave: int) -> list:
    """One later event: the watermark moves to t once the other partitions are idle."""
    return [("service_events", "elsewhere", {"event_id": f"clock-{wave}", "type": "survey.completed",
                                             "occurred_at": iso(t), "survey_id": f"S-{wave}",
                                             "district_id": "elsewhere", "score": 5})]


def late_and_duplicate(t: float, first: list) -> list:
    """An arrival in an hour already decided (its district still kept), and a redelivered event."""
    tid = "T-late-observation"
    return [
        ("repair_tickets", tid, {"event_id": "late-1", "type": "ticket.created", "occurred_at": iso(t),
                                 "ticket_id": tid, "district_id": "hills", "area_type": "remote",
                                 "category": "no_power", "priority": "normal"}),
        ("repair_tickets", tid, {"event_id": "late-2", "type": "ticket.arrived", "occurred_at": iso(t + 15 * MIN),
                                 "ticket_id": tid}),
        first[0],  # the same event_id again
    ]


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def wait_for(predicate, what: str, timeout: float, detail=lambda: "") -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}\n{detail()}")


@pytest.fixture
def worker(kafka_bootstrap, tmp_path):
    d = Deployment(kafka_bootstrap, tmp_path, {
        "RISK_CLOCK": "event",
        "RISK_EVENT_CLOCK_IDLE_SECONDS": "1",
        "RISK_TICK_SECONDS": "0.3",
        "RISK_DISTRICTS_FILE": str(ROOT / "deploy" / "demo" / "districts.yaml"),
    })
    d.start_worker()
    d.wait_ready()
    yield d
    d.close()


@pytest.fixture
def prometheus(worker, tmp_path):
    p = Prometheus(tmp_path, worker.port)
    try:
        p.wait_scraping()
        yield p
    finally:
        p.stop()


def test_every_dashboard_query_returns_data_from_the_real_worker(worker, prometheus):
    d = worker
    queries = dashboard_queries(load_dashboard())
    assert queries

    def send_all(events):
        # One batch, so the worker reads it within a tick or two, like a backlog.
        for topic, key, value in events:
            d.producer.send(d.topics[topic], key=key.encode(),
                            value=value if isinstance(value, bytes) else json.dumps(value).encode())
        d.producer.flush()

    t1 = (time.time() // D) * D - 60 * D + 6 * H  # event time: two months ago, 06:00 UTC
    first = scenario(t1, 1)
    send_all(first)
    time.sleep(3)  # read and applied before the clock moves on
    send_all(push_clock(t1 + 19 * H, 1))  # past wave 1's deadlines, hours and billing period
    # The slowest-to-appear statistics: windows decided, the billing period decided, lag measured.
    wait_for(lambda: all(name in scrape(d.port) for name in (
                 "risk_district_arrival_p90_minutes{", "risk_district_complaints_per_10k_customers_24h{",
                 "risk_district_collection_rate_ratio{", "risk_district_notice_delay_minutes{",
                 "risk_consumer_lag_messages{")),
             "the district statistics and consumer lag on /metrics", 90,
             lambda: scrape(d.port) + "\n--- worker log ---\n" + d.log()[-3000:])
    time.sleep(3)  # scraped by Prometheus with their first values
    t2 = t1 + D
    send_all(scenario(t2, 2))
    time.sleep(3)
    # Decides wave 2's crew-arrival hours (a later hour without arrivals would show p90 0), not its
    # billing period: that gauge keeps wave 1's value.
    send_all(push_clock(t2 + 1 * H, 2))
    time.sleep(3)
    send_all(late_and_duplicate(t2 - 5 * MIN, first))
    wait_for(lambda: 'risk_late_events_total{subject="district"}' in scrape(d.port)
             and "risk_duplicate_events_total 1.0" in scrape(d.port)
             and 'risk_bad_events_total{reason="not_json",topic="%s"} 2.0' % d.topics["repair_tickets"]
             in scrape(d.port),
             "the second wave, late and duplicate events counted", 60, lambda: scrape(d.port))
    assert "after its window was decided" in d.log()  # and the worker says which event it was

    variables = {"district": ".*"}
    pending = {title: concrete(expr, variables) for title, expr in queries}

    def all_answer():
        for title, expr in list(pending.items()):
            if prometheus.query(expr):
                del pending[title]
        return not {t: e for t, e in pending.items() if not any(m in e for m in MAY_BE_EMPTY)}

    wait_for(all_answer, "every dashboard query to return data", 60,
             lambda: "empty:\n" + "\n".join(f"  {t}: {e}" for t, e in pending.items())
             + "\n--- worker /metrics ---\n" + scrape(d.port))
    for title, expr in pending.items():  # only the allowed ones are left
        assert any(m in expr for m in MAY_BE_EMPTY), (title, expr)

    # Values that the scenario decides, read back through Prometheus.
    def value(expr: str) -> dict:
        return {tuple(sorted(s["metric"].items())): float(s["value"][1]) for s in prometheus.query(expr)}

    firing = value('sum by (district, severity) (risk_warnings_firing) > 0')
    assert firing[(("district", "north"), ("severity", "red"))] == 1  # T-red of wave 1 (wave 2's is orange)
    assert firing[(("district", "east"), ("severity", "red"))] >= 2  # O-none of both waves (and outage duration)

    def district_value(metric: str, district: str) -> float:
        return value(f"max by (district) ({metric})")[(("district", district),)]

    assert district_value("risk_district_notice_delay_minutes", "east") == pytest.approx(20)
    assert district_value("risk_district_collection_rate_ratio", "east") == pytest.approx(0.9)
    # 6 complaints in the last 24 h decided; north serves 180 000 customers (deploy/demo/districts.yaml)
    assert district_value("risk_district_complaints_24h", "north") == 6
    assert district_value("risk_district_complaints_per_10k_customers_24h", "north") == pytest.approx(6e4 / 180000)
    # arrivals after 10, 18, 26, 34, 42 and 50 minutes: the sketch's p90 is the 5th of 6, 42 (1 % error)
    assert district_value("risk_district_arrival_p90_minutes", "hills") == pytest.approx(42, rel=0.02)
    published = value('sum by (rule) (increase(risk_warnings_published_total[10m])) > 0')
    assert (("rule", "repair.arrival_overdue"),) in published and (("rule", "outage.notice_late"),) in published

    # The district variable (label_values(district)) lists the scenario's districts.
    assert {"north", "east", "hills"} <= set(prometheus.api("label/district/values"))

    # The alert rules loaded and evaluate without errors against the real series.
    groups = prometheus.api("rules")["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert {r["name"] for r in rules} >= {"RiskWorkerDown", "RiskConsumerLagGrowing", "RiskDeadLettersRising",
                                          "RiskProcessingErrors", "RiskNoEventsConsumed"}
    wait_for(lambda: all(r.get("lastEvaluation", "").startswith("2") and r["health"] == "ok"
                         for g in prometheus.api("rules")["groups"] for r in g["rules"]),
             "every alert rule evaluated without error", 20, lambda: json.dumps(prometheus.api("rules"))[:3000])
    # The worker is up and healthy: none of the service-health alerts fire, but dead letters are counted.
    firing_alerts = {a["labels"]["alertname"] for a in prometheus.api("alerts")["alerts"] if a["state"] == "firing"}
    assert not firing_alerts & {"RiskWorkerDown", "RiskWorkersAbsent", "RiskProcessingErrors"}
