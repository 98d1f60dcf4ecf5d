"""How every Kafka client of the service connects: TLS and SASL.

One settings model (`Settings.kafka_security`, `RISK_KAFKA_SECURITY__*`) and
its translation for the three client libraries: Faust's broker credentials
for the worker, and the keyword arguments aiokafka (the board's feed) and
kafka-python (topics, follow, demo, simulator) share. All of them get the
same `ssl.SSLContext`, so TLS behaves the same whichever client connects.

Everything is checked at start-up, naming the setting: a SASL protocol
without a mechanism, user or password, a credential set for a protocol that
would not send it, an unreadable password file, a CA file or client
certificate that does not load. The password is a `SecretStr` from the
environment or read from a file (a mounted secret); it is never logged.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from .core.rulebook import ConfigError

if TYPE_CHECKING:  # faust is slow to import and only the worker needs it
    import faust

SASL = ("SASL_PLAINTEXT", "SASL_SSL")
TLS = ("SSL", "SASL_SSL")


class KafkaSecurity(BaseModel):
    """TLS and SASL for the connections to the brokers; PLAINTEXT by default."""

    model_config = ConfigDict(extra="forbid")
    # How to talk to the brokers: PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL
    protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    # SASL mechanism; required with SASL. No default: PLAIN sends the password itself, so it must be chosen.
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(None, validate_default=True)
    # SASL user; required with SASL
    sasl_username: str | None = Field(None, min_length=1, validate_default=True)
    # File holding the SASL password (a mounted secret; a trailing newline is ignored), read at start-up
    sasl_password_file: Path | None = None
    # SASL password, or use sasl_password_file; never logged
    sasl_password: SecretStr | None = Field(None, validate_default=True)
    # PEM file of the CA that signed the brokers' certificates. None: the system's trusted CAs
    # (a cloud broker with a public certificate)
    ssl_cafile: Path | None = None
    # Client certificate for mutual TLS; the key may be in the certificate file.

    # Client key for mutual TLS (PEM), when it is not in ssl_certfile
    ssl_keyfile: Path | None = None
    # Client certificate for mutual TLS (PEM)
    ssl_certfile: Path | None = Field(None, validate_default=True)
    # false still verifies the chain, but not that the certificate names the broker
    ssl_check_hostname: bool = True

    # Fields are validated in the order above, so each validator sees the
    # protocol (in info.data) unless the protocol itself was invalid.

    @field_validator("sasl_mechanism", "sasl_username")
    @classmethod
    def _needed_by_sasl(cls, v, info: ValidationInfo):
        protocol = info.data.get("protocol")
        if protocol in SASL and v is None:
            raise ValueError(f"required when protocol is {protocol}")
        if protocol not in SASL and protocol is not None and v is not None:
            raise ValueError(f"only used with SASL_PLAINTEXT or SASL_SSL, but protocol is {protocol}")
        return v

    @field_validator("sasl_password_file")
    @classmethod
    def _readable_secret(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        if v is not None:
            _only_for(info.data.get("protocol"), SASL, "SASL_PLAINTEXT or SASL_SSL")
            _read_secret(v)  # here, so a bad file is this setting's error; _password takes the value
        return v

    @field_validator("sasl_password")
    @classmethod
    def _password(cls, v: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        protocol, file = info.data.get("protocol"), info.data.get("sasl_password_file")
        if v is not None:
            _only_for(protocol, SASL, "SASL_PLAINTEXT or SASL_SSL")
            if file is not None:
                raise ValueError("set either sasl_password or sasl_password_file, not both")
            return v
        if file is not None:
            return SecretStr(_read_secret(file))
        if protocol in SASL and "sasl_password_file" in info.data:  # (a bad file has its own error)
            raise ValueError(f"required when protocol is {protocol}: set sasl_password or sasl_password_file")
        return None

    @field_validator("ssl_cafile")
    @classmethod
    def _ca(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        if v is not None:
            _only_for(info.data.get("protocol"), TLS, "SSL or SASL_SSL")
            _readable(v)
            try:
                ssl.create_default_context(cafile=str(v))
            except ssl.SSLError as e:
                raise ValueError(f"{v} holds no usable PEM CA certificate: {e}") from None
        return v

    @field_validator("ssl_keyfile")
    @classmethod
    def _key(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        if v is not None:
            _only_for(info.data.get("protocol"), TLS, "SSL or SASL_SSL")
            _readable(v)
        return v

    @field_validator("ssl_certfile")
    @classmethod
    def _cert(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        key = info.data.get("ssl_keyfile")
        if v is None:
            if key is not None:
                raise ValueError("required when ssl_keyfile is set: the certificate that key belongs to")
            return v
        _only_for(info.data.get("protocol"), TLS, "SSL or SASL_SSL")
        _readable(v)
        try:
            ssl.create_default_context().load_cert_chain(str(v), str(key) if key else None)
        except ssl.SSLError as e:
            raise ValueError(f"cannot load the client certificate {v} with key {key or v}: {e}") from None
        return v

    def describe(self) -> str:
        """For logs and error messages: how we connect, never the password."""
        if self.protocol in SASL:
            return f"{self.protocol}, {self.sasl_mechanism} as user {self.sasl_username}"
        return self.protocol

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.protocol not in TLS:
            return None
        context = ssl.create_default_context(cafile=str(self.ssl_cafile) if self.ssl_cafile else None)
        # Without it any certificate the CA signed passes for any broker; the
        # chain is still verified either way.
        context.check_hostname = self.ssl_check_hostname
        if self.ssl_certfile is not None:
            context.load_cert_chain(str(self.ssl_certfile), str(self.ssl_keyfile) if self.ssl_keyfile else None)
        return context

    def faust_credentials(self) -> faust.SSLCredentials | faust.SASLCredentials | None:
        """For faust.App(broker_credentials=...): the worker's consumer, producer and topic admin."""
        import faust

        if self.protocol == "SSL":
            return faust.SSLCredentials(self.ssl_context())
        if self.protocol in SASL:
            # With an SSL context Faust speaks SASL_SSL, without one SASL_PLAINTEXT.
            return faust.SASLCredentials(username=self.sasl_username, password=self.sasl_password.get_secret_value(),
                                         ssl_context=self.ssl_context(), mechanism=self.sasl_mechanism)
        return None

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments that kafka-python's and aiokafka's clients both take."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.protocol in TLS:
            options["ssl_context"] = self.ssl_context()
        if self.protocol in SASL:
            options.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.sasl_username,
                           sasl_plain_password=self.sasl_password.get_secret_value())
        return options

    def check_accepted(self, bootstrap: str, timeout_s: float = 15.0) -> None:
        """Raise ConfigError when a broker refuses our TLS handshake or credentials.

        The commands run this at start-up: kafka-python (topics, follow, demo)
        only sees a refusing broker close the connection, and retries until
        its timeout without saying why. A broker that is down is no error
        here: the clients wait for it as they always did.
        """
        if self.protocol == "PLAINTEXT":
            return
        loop = asyncio.new_event_loop()  # not asyncio.run: it would unset the loop Faust then expects
        try:
            for server in bootstrap.split(","):
                host, port = server.rsplit(":", 1)
                if loop.run_until_complete(self._accepted(host, int(port), timeout_s)):
                    return
        finally:
            loop.close()

    async def _accepted(self, host: str, port: int, timeout_s: float) -> bool:
        from aiokafka import errors
        from aiokafka.conn import create_conn

        try:
            conn = await asyncio.wait_for(create_conn(host, port, client_id="risk-warnings-check",
                                                      request_timeout_ms=int(timeout_s * 1000),
                                                      **self.client_options()), timeout_s)
        except (errors.SaslAuthenticationFailed, errors.UnsupportedSaslMechanismError,
                errors.IllegalSaslStateError, ssl.SSLError) as e:
            raise ConfigError(f"Kafka at {host}:{port} refused the connection ({self.describe()}): {e}") from None
        except (TimeoutError, OSError, errors.KafkaError):
            return False  # unreachable, or closed on us for a reason it did not say
        conn.close()
        return True


def _only_for(protocol: str | None, protocols: tuple[str, ...], names: str) -> None:
    """A credential the protocol would not send: refused, not silently ignored."""
    if protocol is not None and protocol not in protocols:
        raise ValueError(f"only used with {names}, but protocol is {protocol}")


def _readable(path: Path) -> None:
    try:
        with path.open("rb"):
            pass
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror}") from None


def _read_secret(path: Path) -> str:
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    if not secret:
        raise ValueError(f"{path} is empty")
    return secret
