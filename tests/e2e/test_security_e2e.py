"""TLS and SASL against the real broker: deploy/kafka.sh with KAFKA_SECURITY=1
(one broker for the module, own ports and data dir) and the real worker
configured through RISK_KAFKA_SECURITY__* only. For each way of connecting,
an event goes in and its warning comes out through secured clients; a wrong
password or an untrusted broker stops start-up saying why; the password is
never in the worker's log."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from schemas import RiskWarning
from service.core.fingerprint import fingerprint

from .harness import ROOT, Deployment, free_port
from .test_worker_e2e import MIN, ticket, warnings_for

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

KAFKA_SH = ROOT / "deploy" / "kafka.sh"


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory):
    """The secured broker's addresses, user and secrets dir (the KEY=VALUE lines `start` prints)."""
    for tool in ("java", "openssl"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is absent: the secured broker needs it")
    # Its own data dir, free ports and user: never another broker's (KAFKA_BOOTSTRAP names a plain one).
    port_names = ("KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "KAFKA_SSL_PORT", "KAFKA_SASL_PLAINTEXT_PORT",
                  "KAFKA_SASL_SSL_PORT")
    mine = {"KAFKA_BOOTSTRAP", "KAFKA_DATA_DIR", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", *port_names}
    env = {k: v for k, v in os.environ.items() if k not in mine and not k.startswith("RISK_")}
    ports: set[int] = set()
    while len(ports) < len(port_names):
        ports.add(free_port())
    env.update(zip(port_names, map(str, sorted(ports))))
    env.update(KAFKA_SECURITY="1", KAFKA_DATA_DIR=str(tmp_path_factory.mktemp("kafka-secure")))
    env.setdefault("KAFKA_PROBE_PYTHON", sys.executable)  # the readiness probe; else a JVM per try
    out = subprocess.run([str(KAFKA_SH), "start"], env=env, capture_output=True, text=True, timeout=900, check=False)
    try:
        if out.returncode != 0:
            pytest.fail(f"KAFKA_SECURITY=1 deploy/kafka.sh start failed:\n{out.stdout}\n{out.stderr}")
        broker = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
        broker["password"] = Path(broker["KAFKA_SECRETS_DIR"], "sasl.password").read_text()
        yield broker
    finally:
        subprocess.run([str(KAFKA_SH), "reset"], env=env, capture_output=True, timeout=120, check=False)


def connection(broker: dict, case: str) -> tuple[str, dict, dict]:
    """(bootstrap, the worker's RISK_ settings, the test clients' kafka-python settings) of a case.

    The test's clients are set up with kafka-python's own options, not with
    the service's translation, so they do not share its mistakes.
    """
    secrets = broker["KAFKA_SECRETS_DIR"]
    user, password = broker["KAFKA_SASL_USERNAME"], broker["password"]
    password_file = f"{secrets}/sasl.password"
    if case == "ssl":  # mutual TLS: this listener requires a client certificate
        return broker["KAFKA_SSL_BOOTSTRAP"], {
            "RISK_KAFKA_SECURITY__PROTOCOL": "SSL",
            "RISK_KAFKA_SECURITY__SSL_CAFILE": f"{secrets}/ca.crt",
            "RISK_KAFKA_SECURITY__SSL_CERTFILE": f"{secrets}/client.crt",
            "RISK_KAFKA_SECURITY__SSL_KEYFILE": f"{secrets}/client.key",
        }, {"security_protocol": "SSL", "ssl_cafile": f"{secrets}/ca.crt",
            "ssl_certfile": f"{secrets}/client.crt", "ssl_keyfile": f"{secrets}/client.key"}
    protocol, mechanism = {
        "sasl-plain": ("SASL_PLAINTEXT", "PLAIN"),
        "sasl-scram-sha-256": ("SASL_PLAINTEXT", "SCRAM-SHA-256"),
        "sasl-scram-sha-512": ("SASL_PLAINTEXT", "SCRAM-SHA-512"),
        "sasl-ssl-scram-sha-512": ("SASL_SSL", "SCRAM-SHA-512"),
    }[case]
    settings = {
        "RISK_KAFKA_SECURITY__PROTOCOL": protocol,
        "RISK_KAFKA_SECURITY__SASL_MECHANISM": mechanism,
        "RISK_KAFKA_SECURITY__SASL_USERNAME": user,
    }
    # One case takes the password from the environment, the others from a file.
    if case == "sasl-plain":
        settings["RISK_KAFKA_SECURITY__SASL_PASSWORD"] = password
    else:
        settings["RISK_KAFKA_SECURITY__SASL_PASSWORD_FILE"] = password_file
    client = {"security_protocol": protocol, "sasl_mechanism": mechanism,
              "sasl_plain_username": user, "sasl_plain_password": password}
    if protocol == "SASL_SSL":
        settings["RISK_KAFKA_SECURITY__SSL_CAFILE"] = f"{secrets}/ca.crt"
        client["ssl_cafile"] = f"{secrets}/ca.crt"
        return broker["KAFKA_SASL_SSL_BOOTSTRAP"], settings, client
    return broker["KAFKA_SASL_PLAINTEXT_BOOTSTRAP"], settings, client


def service(d: Deployment, *args: str) -> subprocess.CompletedProcess:
    """Another `python -m service` command of the deployment, with the worker's settings."""
    out = subprocess.run([sys.executable, "-m", "service", *args], env=d.env(), cwd=ROOT,
                         capture_output=True, text=True, timeout=90, check=False)
    assert out.returncode == 0, f"service {' '.join(args)}:\n{out.stdout}\n{out.stderr}"
    return out


@pytest.mark.parametrize("case", ["ssl", "sasl-plain", "sasl-scram-sha-256", "sasl-scram-sha-512",
                                  "sasl-ssl-scram-sha-512"])
def test_every_client_of_the_service_connects_with_the_settings(secure_broker, tmp_path, case):
    """An event in through the simulator's producer, its warning out of the
    worker, read by the test's own client and by `follow`; the board's
    consumer and `topics` get through too."""
    bootstrap, settings, client = connection(secure_broker, case)
    d = Deployment(bootstrap, tmp_path, {"RISK_CLOCK": "wall", **settings}, client_options=client)
    try:
        d.start_worker()  # `service topics`, then the worker
        d.wait_ready()
        created = time.time() - 40 * MIN  # past its 35-minute arrival deadline
        event = ticket("s1", "ticket.created", created, "T-sec", district_id="north", area_type="urban",
                       category="no_power", priority="normal")
        events = tmp_path / "events.jsonl"
        events.write_text(json.dumps({"ts": created, "role": "tickets", "key": "T-sec", "event": event}) + "\n")
        outputs = [service(d, "sim", "produce", "--events", str(events), "--fast")]

        fp = fingerprint("repair.arrival_overdue", {"ticket_id": "T-sec"})
        records = d.read("risk_warnings", lambda rs: warnings_for(rs, fp))
        warning = RiskWarning.model_validate(warnings_for(records, fp)[0])
        assert (warning.transition, warning.severity) == ("raised", "yellow")
        outputs.append(service(d, "follow", "--from-beginning", "--limit", "1"))
        assert "repair.arrival_overdue" in outputs[-1].stdout and "ticket_id=T-sec" in outputs[-1].stdout
        outputs.append(service(d, "demo", "--minutes", "1", "--speed", "6000"))  # its producer connects and sends
        assert d.proc.poll() is None, "the worker must keep running"
        # The board's own group-less consumer got through as well.
        deadline = time.time() + 30
        while f"board: following {d.topics['risk_warnings']}" not in d.log() and time.time() < deadline:
            time.sleep(0.5)
        log = d.log()
        assert f"board: following {d.topics['risk_warnings']}" in log
        if case != "ssl":
            user, mechanism = secure_broker["KAFKA_SASL_USERNAME"], settings["RISK_KAFKA_SECURITY__SASL_MECHANISM"]
            assert f"Authenticated as {user} via {mechanism}" in log
        for text in [log] + [o.stdout + o.stderr for o in outputs]:
            assert secure_broker["password"] not in text
    finally:
        d.close()


def run_worker(tmp_path, bootstrap: str, settings: dict) -> subprocess.CompletedProcess:
    """`service worker` to its end: these ones are expected not to start."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISK_")}
    env.update(KAFKA_BOOTSTRAP=bootstrap, RISK_APP_ID=f"rw-refused-{free_port()}", RISK_DATA_DIR=str(tmp_path / "data"),
               RISK_WEB_HOST="127.0.0.1", RISK_WEB_PORT=str(free_port()), **settings)
    return subprocess.run([sys.executable, "-m", "service", "worker"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=90, check=False)


@pytest.mark.parametrize("mechanism,reason", [
    ("SCRAM-SHA-512", "invalid credentials with SASL mechanism SCRAM-SHA-512"),
    ("PLAIN", "Invalid username or password"),
])
def test_a_wrong_password_stops_start_up_naming_mechanism_and_user(secure_broker, tmp_path, mechanism, reason):
    """Not retried: a refused password does not get better by waiting, and an
    operator sees a worker that will not start instead of one idling."""
    wrong = "not-" + secure_broker["password"]
    bootstrap = secure_broker["KAFKA_SASL_PLAINTEXT_BOOTSTRAP"]
    started = time.monotonic()
    out = run_worker(tmp_path, bootstrap, {
        "RISK_KAFKA_SECURITY__PROTOCOL": "SASL_PLAINTEXT",
        "RISK_KAFKA_SECURITY__SASL_MECHANISM": mechanism,
        "RISK_KAFKA_SECURITY__SASL_USERNAME": secure_broker["KAFKA_SASL_USERNAME"],
        "RISK_KAFKA_SECURITY__SASL_PASSWORD": wrong,
    })
    assert out.returncode == 2, out.stdout + out.stderr
    assert time.monotonic() - started < 20, "refused at once, not after the clients' retries"
    user = secure_broker["KAFKA_SASL_USERNAME"]
    assert (f"configuration error: Kafka at {bootstrap} refused the connection "
            f"(SASL_PLAINTEXT, {mechanism} as user {user}): ") in out.stderr
    assert reason in out.stderr
    assert wrong not in out.stdout + out.stderr and secure_broker["password"] not in out.stdout + out.stderr


def test_an_untrusted_broker_certificate_stops_start_up(secure_broker, tmp_path):
    """Without the throwaway CA the system's trust store does not know the broker."""
    out = run_worker(tmp_path, secure_broker["KAFKA_SASL_SSL_BOOTSTRAP"], {
        "RISK_KAFKA_SECURITY__PROTOCOL": "SASL_SSL",
        "RISK_KAFKA_SECURITY__SASL_MECHANISM": "SCRAM-SHA-512",
        "RISK_KAFKA_SECURITY__SASL_USERNAME": secure_broker["KAFKA_SASL_USERNAME"],
        "RISK_KAFKA_SECURITY__SASL_PASSWORD": secure_broker["password"],
    })
    assert out.returncode == 2, out.stdout + out.stderr
    assert "refused the connection (SASL_SSL, SCRAM-SHA-512 as user" in out.stderr
    assert "CERTIFICATE_VERIFY_FAILED" in out.stderr
    assert secure_broker["password"] not in out.stdout + out.stderr
