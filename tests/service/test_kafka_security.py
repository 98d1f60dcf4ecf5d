"""The Kafka security settings: validation at start-up, and their translation
for Faust, aiokafka and kafka-python. No broker here (tests/e2e/test_security_e2e.py)."""

from __future__ import annotations

import shutil
import ssl
import subprocess

import faust
import pytest
from faust.types.auth import AuthProtocol, SASLMechanism

from service.config import load_settings
from service.core.rulebook import ConfigError
from tests.e2e.harness import free_port

P = "RISK_KAFKA_SECURITY__"
SCRAM = {f"{P}PROTOCOL": "SASL_PLAINTEXT", f"{P}SASL_MECHANISM": "SCRAM-SHA-512", f"{P}SASL_USERNAME": "risk",
         f"{P}SASL_PASSWORD": "pw-7f3a"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, and a client certificate and key it signed (openssl, as deploy/kafka.sh makes them)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is absent")
    d = tmp_path_factory.mktemp("pki")

    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test CA",
            "-keyout", "ca.key", "-out", "ca.crt")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=risk", "-keyout", "client.key",
            "-out", "client.csr")
    openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-out", "client.crt")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=other", "-keyout", "other.key", "-out", "other.csr")
    return d


def security(env):
    return load_settings(env).kafka_security


def test_plaintext_by_default_changes_nothing():
    s = security({})
    assert s.protocol == "PLAINTEXT" and s.describe() == "PLAINTEXT"
    assert s.faust_credentials() is None  # faust.App's own default
    assert s.client_options() == {"security_protocol": "PLAINTEXT"}
    s.check_accepted("127.0.0.1:1")  # nothing to be refused: no connection attempted


def test_sasl_plaintext_scram():
    s = security(SCRAM)
    creds = s.faust_credentials()
    assert isinstance(creds, faust.SASLCredentials)
    assert (creds.protocol, creds.mechanism) == (AuthProtocol.SASL_PLAINTEXT, SASLMechanism.SCRAM_SHA_512)
    assert (creds.username, creds.password, creds.ssl_context) == ("risk", "pw-7f3a", None)
    assert s.client_options() == {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
                                  "sasl_plain_username": "risk", "sasl_plain_password": "pw-7f3a"}
    assert s.describe() == "SASL_PLAINTEXT, SCRAM-SHA-512 as user risk"


def test_sasl_ssl_verifies_the_broker_against_the_ca_file(pki):
    s = security({**SCRAM, f"{P}PROTOCOL": "SASL_SSL", f"{P}SASL_MECHANISM": "PLAIN",
                  f"{P}SSL_CAFILE": str(pki / "ca.crt")})
    creds = s.faust_credentials()
    assert (creds.protocol, creds.mechanism) == (AuthProtocol.SASL_SSL, SASLMechanism.PLAIN)
    for context in (creds.ssl_context, s.client_options()["ssl_context"]):
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
        assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "test CA"),),)]
    assert s.client_options()["security_protocol"] == "SASL_SSL"


def test_ssl_with_client_certificate_and_no_hostname_check(pki):
    s = security({f"{P}PROTOCOL": "SSL", f"{P}SSL_CAFILE": str(pki / "ca.crt"),
                  f"{P}SSL_CERTFILE": str(pki / "client.crt"), f"{P}SSL_KEYFILE": str(pki / "client.key"),
                  f"{P}SSL_CHECK_HOSTNAME": "false"})
    creds = s.faust_credentials()
    assert isinstance(creds, faust.SSLCredentials) and creds.protocol == AuthProtocol.SSL
    assert not creds.context.check_hostname and creds.context.verify_mode == ssl.CERT_REQUIRED
    assert set(s.client_options()) == {"security_protocol", "ssl_context"}


def test_the_password_comes_from_a_file_and_is_never_shown(tmp_path):
    secret = tmp_path / "kafka-password"
    secret.write_text("from-the-file-91\n")  # a mounted secret often ends with a newline
    env = {**SCRAM, f"{P}SASL_PASSWORD_FILE": str(secret)}
    del env[f"{P}SASL_PASSWORD"]
    settings = load_settings(env)
    s = settings.kafka_security
    assert s.client_options()["sasl_plain_password"] == "from-the-file-91"
    assert s.faust_credentials().password == "from-the-file-91"
    for shown in (repr(settings), str(settings), settings.model_dump_json(), repr(s.faust_credentials()), s.describe()):
        assert "from-the-file-91" not in shown


@pytest.mark.parametrize("env,message", [
    ({f"{P}PROTOCOL": "SASL_SSL"},
     r"setting kafka_security.sasl_mechanism \(from defaults\): .*required when protocol is SASL_SSL"),
    ({**SCRAM, f"{P}SASL_USERNAME": ""},
     rf"setting kafka_security.sasl_username \(from environment variable {P}SASL_USERNAME\)"),
    ({k: v for k, v in SCRAM.items() if k != f"{P}SASL_USERNAME"},
     r"setting kafka_security.sasl_username \(from defaults\): .*required when protocol is SASL_PLAINTEXT"),
    ({k: v for k, v in SCRAM.items() if k != f"{P}SASL_PASSWORD"},
     r"setting kafka_security.sasl_password .*set sasl_password or sasl_password_file"),
    ({**SCRAM, f"{P}SASL_MECHANISM": "GSSAPI"}, r"setting kafka_security.sasl_mechanism .*'PLAIN'"),
    ({f"{P}PROTOCOL": "TLS"}, rf"setting kafka_security.protocol \(from environment variable {P}PROTOCOL\)"),
    # a credential the protocol would not send is refused, not silently ignored
    ({f"{P}SASL_USERNAME": "risk"},
     r"setting kafka_security.sasl_username .*only used with SASL_PLAINTEXT or SASL_SSL, but protocol is PLAINTEXT"),
    ({f"{P}PROTOCOL": "SSL", f"{P}SASL_PASSWORD": "x"}, r"setting kafka_security.sasl_password .*protocol is SSL"),
    ({**SCRAM, f"{P}SSL_CAFILE": "/etc/hostname"},
     r"setting kafka_security.ssl_cafile .*only used with SSL or SASL_SSL, but protocol is SASL_PLAINTEXT"),
    ({f"{P}PROTOCOL": "SSL", f"{P}SSL_CAFILE": "/no/such/ca.pem"},
     r"setting kafka_security.ssl_cafile .*cannot read /no/such/ca.pem: No such file or directory"),
    ({f"{P}TYPO": "1"}, rf"\(from environment variable {P}TYPO\): unknown setting"),
])
def test_bad_security_settings_stop_start_up_naming_the_setting(env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(env)


def test_password_file_errors_name_setting_and_file(tmp_path):
    env = {k: v for k, v in SCRAM.items() if k != f"{P}SASL_PASSWORD"}
    missing = tmp_path / "missing"
    with pytest.raises(ConfigError, match=rf"setting kafka_security.sasl_password_file \(from environment variable "
                                          rf"{P}SASL_PASSWORD_FILE\): .*cannot read {missing}: No such file"):
        load_settings({**env, f"{P}SASL_PASSWORD_FILE": str(missing)})
    with pytest.raises(ConfigError, match=rf"sasl_password_file .*cannot read {tmp_path}: Is a directory"):
        load_settings({**env, f"{P}SASL_PASSWORD_FILE": str(tmp_path)})
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match=rf"sasl_password_file .*{empty} is empty"):
        load_settings({**env, f"{P}SASL_PASSWORD_FILE": str(empty)})
    empty.write_text("pw")
    with pytest.raises(ConfigError, match=r"set either sasl_password or sasl_password_file, not both"):
        load_settings({**SCRAM, f"{P}SASL_PASSWORD_FILE": str(empty)})


def test_certificate_errors_name_the_setting(pki):
    ssl_env = {f"{P}PROTOCOL": "SSL"}
    with pytest.raises(ConfigError, match=rf"ssl_cafile .*{pki / 'client.key'} holds no usable PEM CA certificate"):
        load_settings({**ssl_env, f"{P}SSL_CAFILE": str(pki / "client.key")})
    with pytest.raises(ConfigError, match=r"ssl_certfile \(from defaults\): .*required when ssl_keyfile is set"):
        load_settings({**ssl_env, f"{P}SSL_KEYFILE": str(pki / "client.key")})
    with pytest.raises(ConfigError, match=rf"ssl_certfile \(from environment variable {P}SSL_CERTFILE\): "
                                          r".*cannot load the client certificate .*KEY_VALUES_MISMATCH"):
        load_settings({**ssl_env, f"{P}SSL_CERTFILE": str(pki / "client.crt"),
                       f"{P}SSL_KEYFILE": str(pki / "other.key")})


def test_settings_file_errors_name_the_file(tmp_path):
    f = tmp_path / "settings.yaml"
    f.write_text("kafka_security:\n  protocol: SASL_SSL\n  sasl_mechanism: SCRAM-SHA-512\n")
    with pytest.raises(ConfigError, match=rf"setting kafka_security.sasl_username \(from file {f}\)"):
        load_settings({"RISK_CONFIG_FILE": str(f)})
    f.write_text("kafka_security:\n  protocol: SASL_SSL\n  sasl_mechanism: SCRAM-SHA-512\n  sasl_username: risk\n")
    s = load_settings({"RISK_CONFIG_FILE": str(f), f"{P}SASL_PASSWORD": "pw"}).kafka_security
    assert s.describe() == "SASL_SSL, SCRAM-SHA-512 as user risk"


def test_a_broker_that_is_down_is_not_a_refusal():
    """The clients wait for a broker that is not up yet; only a refusal stops start-up."""
    security(SCRAM).check_accepted(f"127.0.0.1:{free_port()}", timeout_s=2)
