"""Static checks of deploy/: compose, Kubernetes manifests, Prometheus and
Grafana configuration agree with each other, with the Dockerfile and with the
service (its settings and its metrics). No broker needed; promtool is."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from service.config import Settings, _reject_unknown_variables, load_districts, load_rulebook
from service.core.rulebook import ConfigError

from .tools import (DASHBOARD, DEPLOY, PROMETHEUS_DIR, ROOT, concrete, dashboard_queries, load_dashboard,
                    metric_names, panels, prometheus_tool, service_metric_names)

K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "docker-compose.yml"
GRAFANA = DEPLOY / "grafana"
PORT = 6066
# Series that Prometheus itself makes; everything else must come from service/metrics.py.
PROMETHEUS_SERIES = {"up"}


def load_yaml(path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_yaml(COMPOSE)


@pytest.fixture(scope="module")
def kustomization() -> dict:
    return load_yaml(K8S / "kustomization.yaml")


@pytest.fixture(scope="module")
def manifests(kustomization) -> dict[str, dict]:
    """kind -> the manifest, for every resource the kustomization lists."""
    out = {}
    for name in kustomization["resources"]:
        path = K8S / name
        assert path.is_file(), f"kustomization.yaml lists {name}, which does not exist"
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            assert doc["kind"] not in out, f"two {doc['kind']} manifests"
            out[doc["kind"]] = doc
    return out


@pytest.fixture(scope="module")
def generated_env(kustomization) -> dict[str, str]:
    """The worker's environment from the kustomization's configMapGenerator literals."""
    (gen,) = [g for g in kustomization["configMapGenerator"] if g["name"] == "risk-warnings-env"]
    return dict(lit.split("=", 1) for lit in gen["literals"])


def worker_container(manifests) -> dict:
    (container,) = manifests["Deployment"]["spec"]["template"]["spec"]["containers"]
    return container


def known_settings(env: dict[str, str]) -> None:
    """The service refuses unknown RISK_ variables at start-up: so must this test."""
    _reject_unknown_variables(env)


# --- the Dockerfile is the reference ---------------------------------------------------------


def test_dockerfile_exposes_the_web_port_and_runs_as_uid_10001():
    text = dockerfile()
    assert re.search(rf"^EXPOSE\s+{PORT}\b", text, re.M)
    assert re.search(rf"RISK_WEB_PORT={PORT}\b", text)
    assert re.search(r"useradd\b[^\n]*--uid 10001 risk", text) and re.search(r"^USER risk\b", text, re.M)
    assert Settings.model_fields["web_port"].default == PORT


def dockerfile_uid() -> int:
    return int(re.search(r"--uid (\d+)", dockerfile()).group(1))


# --- docker compose -------------------------------------------------------------------------


def test_compose_services_and_their_wiring(compose):
    services = compose["services"]
    assert {"kafka", "worker", "prometheus", "grafana"} <= set(services)
    worker = services["worker"]
    build = worker["build"]
    assert (DEPLOY / build["context"] / build.get("dockerfile", "Dockerfile")).resolve() == ROOT / "Dockerfile"
    env = worker["environment"]
    known_settings(env)
    host, port = env["RISK_KAFKA_BOOTSTRAP"].split(":")
    assert host == "kafka" and "kafka" in worker["depends_on"]
    kafka_env = services["kafka"]["environment"]
    assert f"PLAINTEXT://kafka:{port}" in kafka_env["KAFKA_ADVERTISED_LISTENERS"]
    assert f"PLAINTEXT://:{port}" in kafka_env["KAFKA_LISTENERS"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert kafka_env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, one node
    assert int(env.get("RISK_WEB_PORT", PORT)) == PORT
    assert str(PORT) in [str(p) for p in worker.get("expose", [])]
    assert int(env["RISK_REPLICATION_FACTOR"]) == 1  # one broker
    assert services["prometheus"]["image"].startswith("prom/prometheus:")
    assert services["grafana"]["image"].startswith("grafana/grafana:")


def bind_mounts(service: dict) -> dict[str, str]:
    """container path -> host path (resolved against deploy/) of a compose service's bind mounts."""
    out = {}
    for volume in service.get("volumes", []):
        if not isinstance(volume, str):  # long syntax: a volume, not a bind mount
            continue
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            out[target] = (DEPLOY / source).resolve()
    return out


def test_every_file_compose_mounts_exists_and_the_worker_finds_its_files(compose):
    for name, service in compose["services"].items():
        for target, source in bind_mounts(service).items():
            assert source.exists(), f"{name} mounts {source}, which does not exist"
    for name in ("worker", "demo"):
        service = compose["services"][name]
        mounts, env = bind_mounts(service), service["environment"]
        for setting in ("RISK_RULES_FILE", "RISK_DISTRICTS_FILE"):
            assert env[setting] in mounts, f"{name}: {setting}={env[setting]} is not mounted"
        load_rulebook(mounts[env["RISK_RULES_FILE"]])
        load_districts(mounts[env["RISK_DISTRICTS_FILE"]])


def test_compose_prometheus_and_grafana_mounts_match_their_configuration(compose):
    prom = compose["services"]["prometheus"]
    mounts = bind_mounts(prom)
    config_arg = next(a for a in prom["command"] if a.startswith("--config.file=")).split("=", 1)[1]
    config_dir, config_name = config_arg.rsplit("/", 1)
    assert mounts[config_dir] == PROMETHEUS_DIR and (PROMETHEUS_DIR / config_name).is_file()

    grafana = bind_mounts(compose["services"]["grafana"])
    assert grafana["/etc/grafana/provisioning"] == GRAFANA / "provisioning"
    provider = load_yaml(GRAFANA / "provisioning" / "dashboards" / "dashboards.yml")["providers"][0]
    assert provider["type"] == "file"
    assert grafana[provider["options"]["path"]] == GRAFANA / "dashboards"
    home = compose["services"]["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == provider["options"]["path"] + "/" + DASHBOARD.name

    (datasource,) = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"  # the compose service, Prometheus's default port
    assert "prometheus" in compose["services"]["grafana"]["depends_on"]


# --- Kubernetes -----------------------------------------------------------------------------


def test_kustomization_generators_read_existing_files_not_copies(kustomization):
    for gen in kustomization["configMapGenerator"]:
        for entry in gen.get("files", []):
            source = (K8S / entry.split("=", 1)[-1]).resolve()
            assert source.is_file(), f"{gen['name']}: {source} does not exist"
    rules = next(g for g in kustomization["configMapGenerator"] if g["name"] == "risk-warnings-rules")
    assert (K8S / rules["files"][0].split("=", 1)[1]).resolve() == ROOT / "service" / "defaults" / "rules.yaml"
    assert not list(K8S.glob("rules*.yaml")), "the rules are generated from service/defaults, not copied"


def test_deployment(manifests, generated_env, kustomization):
    deployment = manifests["Deployment"]
    spec, pod = deployment["spec"], deployment["spec"]["template"]["spec"]
    assert spec["replicas"] == 3
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    # Kubernetes' service links would inject RISK_WARNINGS_* variables, which the service refuses.
    assert pod["enableServiceLinks"] is False
    container = worker_container(manifests)
    assert container["image"] in {i["name"] for i in kustomization["images"]}

    env = dict(generated_env)
    env.update({e["name"]: "x" for e in container.get("env", [])})
    known_settings(env)
    assert {ref["configMapRef"]["name"] for ref in container["envFrom"] if "configMapRef" in ref} == {"risk-warnings-env"}
    for e in container.get("env", []):
        secret = e.get("valueFrom", {}).get("secretKeyRef")
        assert secret is None or secret.get("optional") is True, "a missing secret must not stop the pod"

    # the rule and district files are where the settings say, from the generated ConfigMaps
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    generated = {g["name"]: [f.split("=", 1)[0] for f in g.get("files", [])] for g in kustomization["configMapGenerator"]}
    for setting in ("RISK_RULES_FILE", "RISK_DISTRICTS_FILE"):
        directory, filename = env[setting].rsplit("/", 1)
        configmap = volumes[mounts[directory]]["configMap"]["name"]
        assert filename in generated[configmap], (setting, env[setting], configmap)
    data_dir = env.get("RISK_DATA_DIR", "/data")
    assert "emptyDir" in volumes[mounts[data_dir]], "the read-only root filesystem needs a writable data dir"
    assert env["RISK_STORE"] == "rocksdb://"  # tables on the data volume, not in memory


def test_compose_worker_keeps_its_tables_in_rocksdb_on_a_volume_of_its_own(compose):
    worker = compose["services"]["worker"]
    env = worker["environment"]
    assert env["RISK_STORE"] == "rocksdb://"
    data_dir = env.get("RISK_DATA_DIR", "/data")  # the image's default
    own = [v for v in worker["volumes"] if isinstance(v, dict) and v.get("target") == data_dir]
    # anonymous: one per container, also with --scale (a named volume would be shared)
    assert own and own[0]["type"] == "volume" and "source" not in own[0]
    assert '".[rocksdb]"' in dockerfile()  # the image has the store's package


def test_ports_and_probes_agree_on_6066(manifests, generated_env):
    container = worker_container(manifests)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert int(generated_env["RISK_WEB_PORT"]) == PORT and PORT in ports.values()

    def resolve(port):
        return ports[port] if isinstance(port, str) else port

    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] == "/healthz" and resolve(get["port"]) == PORT, probe
    service = manifests["Service"]
    (port,) = service["spec"]["ports"]
    assert port["port"] == PORT and resolve(port["targetPort"]) == PORT
    annotations = service["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == PORT and annotations["prometheus.io/path"] == "/metrics"
    pod_labels = manifests["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


def test_security_context_matches_the_image_user(manifests):
    uid = dockerfile_uid()
    pod = manifests["Deployment"]["spec"]["template"]["spec"]
    container = worker_container(manifests)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == uid
    assert container["securityContext"].get("runAsUser", uid) == uid
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    limits, requests = container["resources"]["limits"], container["resources"]["requests"]
    assert {"cpu", "memory"} <= requests.keys() and "memory" in limits


def test_pod_disruption_budget_covers_the_workers(manifests):
    pdb = manifests["PodDisruptionBudget"]
    pod_labels = manifests["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert ("maxUnavailable" in pdb["spec"]) != ("minAvailable" in pdb["spec"])
    assert manifests["Namespace"]["metadata"]["name"] == load_yaml(K8S / "kustomization.yaml")["namespace"]


def test_kustomize_builds_when_kubectl_is_present():
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed: the manifests were checked by parsing them only")
    out = subprocess.run([kubectl, "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(K8S)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    docs = {d["kind"] + "/" + d["metadata"]["name"]: d for d in yaml.safe_load_all(out.stdout)}
    deployment = docs["Deployment/risk-warnings"]
    names = {v["configMap"]["name"] for v in deployment["spec"]["template"]["spec"]["volumes"] if "configMap" in v}
    # the generated (hashed) names are referenced, and the rules are the shipped file's content
    assert all(f"ConfigMap/{n}" in docs for n in names) and len(names) == 2
    rules = next(d for k, d in docs.items() if k.startswith("ConfigMap/risk-warnings-rules-"))
    assert rules["data"]["rules.yaml"] == (ROOT / "service" / "defaults" / "rules.yaml").read_text(encoding="utf-8")
    assert all(d["metadata"].get("namespace") == "risk-warnings" for k, d in docs.items() if not k.startswith("Namespace"))


# --- Prometheus -------------------------------------------------------------------------------


def test_prometheus_scrapes_the_workers_on_6066():
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "risk-warnings" and job.get("metrics_path", "/metrics") == "/metrics"
    (sd,) = job["dns_sd_configs"]
    assert sd["names"] == ["worker"] and sd["port"] == PORT  # the compose service, every replica
    for rule_file in config["rule_files"]:
        assert (PROMETHEUS_DIR / rule_file).is_file()


def alert_rules() -> list[dict]:
    return [r for g in load_yaml(PROMETHEUS_DIR / "alerts.yml")["groups"] for r in g["rules"]]


def test_alert_rules_cover_the_service_health_and_are_documented():
    rules = {r["alert"]: r for r in alert_rules()}
    required = {"RiskWorkerDown": "up", "RiskConsumerLagGrowing": "risk_consumer_lag_messages",
                "RiskDeadLettersRising": "risk_bad_events_total", "RiskProcessingErrors": "risk_processing_errors_total",
                "RiskNoEventsConsumed": "risk_events_consumed_total"}
    for name, metric in required.items():
        assert metric in metric_names(rules[name]["expr"]), name
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
    assert "deriv(" in rules["RiskConsumerLagGrowing"]["expr"] or "increase(" in rules["RiskConsumerLagGrowing"]["expr"]


def test_every_metric_in_alerts_and_dashboard_is_one_the_service_exports():
    known = service_metric_names() | PROMETHEUS_SERIES
    used = {f"alert {r['alert']}": r["expr"] for r in alert_rules()}
    used.update({f"panel {title}": expr for title, expr in dashboard_queries(load_dashboard())})
    unknown = {where: sorted(metric_names(expr) - known) for where, expr in used.items() if metric_names(expr) - known}
    assert not unknown, unknown
    assert all(metric_names(expr) for expr in used.values())


def test_the_metric_name_check_catches_a_typo():
    known = service_metric_names()
    assert metric_names('sum by (district) (risk_warning_firing{district=~"$district"})') - known == {"risk_warning_firing"}
    assert metric_names("histogram_quantile(0.9, sum by (le) (rate(risk_event_lag_seconds_bucket[5m])))") <= known
    assert "risk_event_lag_seconds" not in known  # a histogram is queried by its _bucket/_count/_sum series
    with pytest.raises(AssertionError, match="unknown PromQL function"):
        metric_names("rat(risk_events_consumed_total[5m])")


@pytest.fixture(scope="module")
def promtool() -> str:
    return prometheus_tool("promtool")


def run(cmd, cwd=PROMETHEUS_DIR):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_promtool_check_config(promtool):
    out = run([promtool, "check", "config", "prometheus.yml"])
    assert out.returncode == 0, out.stdout + out.stderr


def test_promtool_check_rules(promtool):
    out = run([promtool, "check", "rules", "alerts.yml"])
    assert out.returncode == 0, out.stdout + out.stderr


def test_promtool_unit_tests_of_the_alerts(promtool):
    out = run([promtool, "test", "rules", "alerts.test.yml"])
    assert out.returncode == 0, out.stdout + out.stderr


def test_promtool_rejects_a_broken_rule(promtool, tmp_path):
    """The promtool checks above can fail."""
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: rate(risk_events_consumed_total[5m]\n")
    assert run([promtool, "check", "rules", str(bad)]).returncode != 0


# --- Grafana ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return load_dashboard()


def test_dashboard_is_a_provisionable_grafana_dashboard(dashboard):
    assert dashboard["uid"] == "risk-warnings" and dashboard["title"]
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert dashboard.get("id") is None  # provisioned dashboards get their id from Grafana
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for p in panels(dashboard):
        pos = p["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24, p["title"]
    # no two panels overlap
    cells = {}
    for p in panels(dashboard):
        pos = p["gridPos"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = p["title"]


def test_every_panel_has_a_datasource_and_a_query(dashboard):
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    provisioned_uid = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")["datasources"][0]["uid"]
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert variables["datasource"]["current"]["value"] == provisioned_uid

    def ok(ds):
        return isinstance(ds, dict) and ds.get("type") == "prometheus" and ds.get("uid") in {"${datasource}", provisioned_uid}

    content = [p for p in panels(dashboard) if p["type"] != "row"]
    assert len(content) >= 15
    for p in content:
        assert ok(p.get("datasource")), p["title"]
        targets = p.get("targets", [])
        assert targets and all(t.get("expr", "").strip() for t in targets), p["title"]
        assert all(ok(t.get("datasource", p["datasource"])) for t in targets), p["title"]
        assert len({t["refId"] for t in targets}) == len(targets), p["title"]
    # every expression only uses variables the dashboard defines (or Grafana's built-in ones)
    for title, expr in dashboard_queries(dashboard):
        concrete(expr, {name: ".*" for name in variables})


def test_dashboard_shows_what_the_duty_officer_needs(dashboard):
    """The brief: firing by severity and district, SLA statistics against their limits, flows and lags."""
    by_title = {p["title"]: p for p in panels(dashboard) if p["type"] != "row"}
    exprs = " ".join(e for _, e in dashboard_queries(dashboard))
    for metric in ("risk_warnings_firing", "risk_district_arrival_p90_minutes", "risk_district_notice_delay_minutes",
                   "risk_district_collection_rate_ratio", "risk_district_complaints_per_10k_customers_24h",
                   "risk_events_consumed_total", "risk_bad_events_total", "risk_event_lag_seconds_bucket",
                   "risk_consumer_lag_messages", "risk_warnings_published_total"):
        assert metric in exprs, metric

    def thresholds(title):
        return [s["value"] for s in by_title[title]["fieldConfig"]["defaults"]["thresholds"]["steps"]]

    assert thresholds("Crew arrival p90 (min)") == [None, 45, 90, 120]
    assert 15 in thresholds("Outage notice delay (min), limit 15")
    assert 0.95 in thresholds("Collection rate, target 95 %")
    lag = " ".join(t["expr"] for t in by_title["Event-time lag p50 / p99"]["targets"])
    assert "histogram_quantile(0.5" in lag and "histogram_quantile(0.99" in lag
    severity = by_title["Warnings firing by severity"]["targets"][0]["expr"]
    assert "by (severity)" in severity
    assert "district" in by_title["Firing warnings by district and severity"]["targets"][0]["expr"]


def test_dashboard_json_is_stable_formatting():
    """Hand edits keep the file valid JSON (a Grafana export is re-indented the same way)."""
    text = DASHBOARD.read_text(encoding="utf-8")
    assert json.loads(text) and text.endswith("\n")


def test_the_settings_check_refuses_unknown_variables():
    """known_settings() above can fail: a misspelt variable is refused, as at start-up."""
    with pytest.raises(ConfigError):
        known_settings({"RISK_WEB_PROT": "6066"})


def test_the_no_docker_prometheus_scrapes_the_given_worker_with_the_service_alerts(promtool):
    out = subprocess.run([str(DEPLOY / "prometheus.sh"), "--check", "127.0.0.1:6123"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    config = load_yaml(ROOT / "var" / "prometheus" / "prometheus.yml")
    job = config["scrape_configs"][0]
    assert job["static_configs"] == [{"targets": ["127.0.0.1:6123"]}]
    # the same job name as the compose configuration: the alerts match on it
    assert job["job_name"] == load_yaml(PROMETHEUS_DIR / "prometheus.yml")["scrape_configs"][0]["job_name"]
    assert (ROOT / "var" / "prometheus" / "alerts.yml").read_text() == (PROMETHEUS_DIR / "alerts.yml").read_text()


def test_compose_publishes_the_board_on_loopback_and_runs_the_demo_on_the_event_clock(compose):
    services = compose["services"]
    ports = services["worker"]["ports"]
    assert ports and all(p.startswith("127.0.0.1:") and p.endswith(f":{PORT}") for p in ports)
    demo_worker, demo = services["demo-worker"], services["demo"]
    assert demo_worker["environment"]["RISK_CLOCK"] == "event" and demo_worker["profiles"] == ["demo"]
    assert demo["environment"] == demo_worker["environment"]  # the stream goes where the demo worker reads
    assert demo_worker["environment"]["RISK_APP_ID"] != services["worker"]["environment"].get("RISK_APP_ID")
    demo_topics = {v for k, v in demo_worker["environment"].items() if k.startswith("RISK_TOPICS__")}
    assert len(demo_topics) == 8 and all(t.startswith("demo-") for t in demo_topics)
    assert any(p.startswith("127.0.0.1:") for p in demo_worker["ports"])
    known_settings(demo_worker["environment"])
