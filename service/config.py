"""The service's one configuration object, read once at start-up.

Settings come from environment variables (prefix `RISK_`, nested with `__`,
e.g. `RISK_TOPICS__DEAD_LETTERS`) over an optional YAML file named by
`RISK_CONFIG_FILE`, over the defaults below. The rule configuration and the
district reference data are files of their own, named here. Any invalid value
stops start-up with a `ConfigError` naming the setting and where it came
from; nothing is half-applied.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from schemas.common import ID_PATTERN

from . import auth
from .core.notify import NotifyConfig, load_notify_config
from .core.reference import District, load_reference
from .core.rulebook import ConfigError, RuleBook, overlay, overlay_origins
from .kafka_security import KafkaSecurity

PACKAGE_DIR = Path(__file__).parent
DEFAULT_RULES = PACKAGE_DIR / "defaults" / "rules.yaml"

TopicName = str
_FILE_DATA: ContextVar[dict] = ContextVar("settings_file_data", default={})  # the file load_settings is reading


class Topics(BaseModel):
    """Topic names; defaults are the contract's."""

    model_config = ConfigDict(extra="forbid")
    # Input: outage events
    outage_events: TopicName = Field("outage-events", pattern=r"^[A-Za-z0-9._-]{1,249}$")
    # Input: repair-ticket events
    repair_tickets: TopicName = Field("repair-tickets", pattern=r"^[A-Za-z0-9._-]{1,249}$")
    # Input: billing events
    billing_events: TopicName = Field("billing-events", pattern=r"^[A-Za-z0-9._-]{1,249}$")
    # Input: complaints, surveys, meter alarms
    service_events: TopicName = Field("service-events", pattern=r"^[A-Za-z0-9._-]{1,249}$")
    # Output: warning state changes
    risk_warnings: TopicName = Field("risk-warnings", pattern=r"^[A-Za-z0-9._-]{1,249}$")
    # Output: SMS texts, for a sender to consume
    risk_notifications: TopicName = Field("risk-notifications", pattern=r"^[A-Za-z0-9._-]{1,249}$")
    # Input: acknowledgements (the API writes here too)
    warning_acks: TopicName = Field("warning-acks", pattern=r"^[A-Za-z0-9._-]{1,249}$")
    # Output: bad input messages with the reason
    dead_letters: TopicName = Field("dead-letters", pattern=r"^[A-Za-z0-9._-]{1,249}$")

    @property
    def inputs(self) -> list[str]:
        return [self.outage_events, self.repair_tickets, self.billing_events, self.service_events]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RISK_", env_nested_delimiter="__", extra="forbid")

    # Kafka brokers, host:port[,host:port...]; KAFKA_BOOTSTRAP is read too
    kafka_bootstrap: str = Field(
        "127.0.0.1:9092",
        validation_alias=AliasChoices("RISK_KAFKA_BOOTSTRAP", "KAFKA_BOOTSTRAP", "kafka_bootstrap"),
        pattern=r"^[^\s,]+:\d{1,5}(,[^\s,]+:\d{1,5})*$",
    )
    # TLS and SASL for every Kafka client (RISK_KAFKA_SECURITY__PROTOCOL, ...)
    kafka_security: KafkaSecurity = Field(default_factory=KafkaSecurity)
    # Start the worker although faust-streaming or aiokafka is not the pinned version (logged as a warning)
    allow_unpinned_faust: bool = False
    # Faust application id: the consumer group and the prefix of internal topics; a new id is a fresh state
    app_id: str = Field("risk-warnings", pattern=r"^[A-Za-z0-9._-]{1,100}$")
    # Topic names (RISK_TOPICS__OUTAGE_EVENTS, ...): the contract's by default
    topics: Topics = Field(default_factory=Topics)
    # Partitions of the topics the service creates, and of its state; changing it needs a fresh state
    partitions: int = Field(8, ge=1, le=1024)
    # Replicas of the topics the service creates: 1 for a local broker, 3 on a production cluster
    replication_factor: int = Field(1, ge=1, le=7)
    # Create the contract topics at start-up when missing (Faust creates its internal ones regardless)
    create_topics: bool = True
    # wall: live operation; event: replays, time is the highest event time the inputs delivered
    clock: Literal["wall", "event"] = "wall"
    # How often the clock ticks through the work partitions: deadline warnings are published within a tick
    tick_seconds: float = Field(1.0, gt=0, le=300)
    # Messages are read in batches: each state key is written once per batch, derived events
    # travel together. A longer wait costs latency per hop, a shorter one CPU
    # (docs/benchmarks.md).

    # Most messages read in one batch
    batch_max: int = Field(1000, ge=1, le=100_000)
    # Longest wait for a batch to fill, added to a warning's latency once per hop
    batch_seconds: float = Field(0.05, gt=0, le=5)
    # Fewer, fuller fetches under load (Kafka's fetch.min.bytes and fetch.max.wait.ms).

    # The broker answers a fetch once it has this many bytes for it (or after fetch_max_wait_ms)
    fetch_min_bytes: int = Field(65536, ge=1, le=64 << 20)
    # Longest the broker holds a fetch waiting for data: added to a warning's latency at most once per hop
    fetch_max_wait_ms: int = Field(50, ge=0, le=30_000)
    # Event clock: an input partition silent this long no longer holds the clock back
    event_clock_idle_seconds: float = Field(5.0, gt=0)
    # Event clock: how far behind the highest event time the clock runs, so slightly late events still count
    event_clock_lateness_seconds: float = Field(0.0, ge=0)
    # A quiet subject whose warnings are resolved is deleted this long after its last event
    retention_days: float = Field(7.0, gt=0, le=400)
    # How far an event's occurred_at may lie ahead of wall time (producers' clocks differ a little):
    # beyond it the event is dead-lettered (future_event_time), and no clock runs further ahead.
    max_clock_skew_seconds: float = Field(300.0, ge=0, le=86400)
    # a subject's stored state at most (KiB); an event that would exceed it is dead-lettered state_too_large.
    # Below Kafka's 1 MiB record limit; lower it with the broker's or topic's max.message.bytes.
    state_budget_kib: int = Field(768, ge=16, le=768)
    # bills and payments an account keeps; beyond, its oldest settled ones are dropped (never open ones)
    max_account_entries: int = Field(500, ge=10, le=2000)
    # an open ticket or outage is closed this long after it opened, its firing warnings resolved
    max_open_days: float = Field(30.0, gt=0, le=400)
    # districts without reference data that get their own metric labels; the rest share district="other"
    max_district_labels: int = Field(500, ge=0, le=10_000)
    # How long the broker waits for a silent worker (killed, partitioned) before
    # giving its partitions to the others. Lower: faster failover, more false alarms.
    session_timeout_seconds: float = Field(60.0, ge=6, le=1800)
    # While the broker is away the Kafka clients retry and the worker goes on where it was.
    # After this long without a write acknowledged it exits (code 3) for its supervisor to
    # restart it: Faust's producer gives up on unsent messages after 20 min, and would then
    # commit past them.
    broker_unreachable_exit_seconds: float = Field(600.0, ge=1, le=1100)
    # Address the worker's web server (board, API, /metrics, /healthz) listens on: loopback unless
    # told; the containers (Dockerfile, compose, k8s) set 0.0.0.0 explicitly.
    web_host: str = "127.0.0.1"
    # Port of the board (/board), the API (/api), /metrics and /healthz
    web_port: int = Field(6066, ge=1, le=65535)
    # State store: memory:// (rebuilt from the changelogs at start) or rocksdb:// (needs the rocksdb extra)
    store: str = Field("memory://", pattern=r"^(memory|rocksdb)://$")
    # Where Faust keeps its local data (the RocksDB store); keep it on a persistent volume
    data_dir: Path = Path("var/worker")
    # Rule file overlaid on the shipped rules (docs/rules.md): a rule is off only where it says enabled: false
    rules_file: Path = DEFAULT_RULES
    # District reference data, YAML (format in docs/configuration.md): denominators and SMS groups
    districts_file: Path | None = None
    # Log level of the worker
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # SMS notifications: rate limits, flapping, which transitions (format in docs/configuration.md)
    notify_file: Path | None = None
    # Recipient group of SMS notifications whose district has none in the reference data (an id: the
    # contract's safe character set)
    notify_default_group: str = Field("ops-centre", pattern=ID_PATTERN)
    # Bearer token for the HTTP API's writes (acknowledgements) and reads. From the
    # environment or a file (a mounted secret); never logged. Unset: writes refused.
    api_token: SecretStr | None = None
    # File holding the API token (a mounted secret), instead of RISK_API_TOKEN
    api_token_file: Path | None = None
    # Read-only bearer token for /api/warnings and the board (service/auth.py).
    api_read_token: SecretStr | None = None
    # File holding the read-only token (a mounted secret), instead of RISK_API_READ_TOKEN
    api_read_token_file: Path | None = None
    # One token per person, YAML {person: {token, role: read|ack}}: acks are recorded under the person.
    api_tokens_file: Path | None = None
    # Header naming the user, set by a trusted single sign-on proxy (e.g. X-Forwarded-User): the
    # identity of acks made with a shared token. Only when that proxy is the only way to the worker.
    api_trusted_user_header: str | None = Field(None, pattern=r"^[A-Za-z0-9-]{1,64}$")
    # How long a board login (its session cookie) lasts.
    board_session_hours: float = Field(12.0, gt=0, le=24 * 30)
    # Live-feed connections (/board/events) this worker serves at once; more get 503.
    board_max_clients: int = Field(100, ge=1, le=10_000)
    # A live-feed client that does not take a write within this long is disconnected.
    board_write_timeout_seconds: float = Field(10.0, gt=0, le=300)
    # Account and staff ids on the board, in API reads and in logs: pseudonymised unless true.
    show_personal_ids: bool = False
    # Key of the pseudonyms (HMAC-SHA256). Unset: derived from app_id, which anyone knowing the
    # app id can recompute; set a secret one (ids from a small space can be guessed).
    pseudonym_key: SecretStr | None = None
    # File holding the pseudonym key (a mounted secret), instead of RISK_PSEUDONYM_KEY
    pseudonym_key_file: Path | None = None
    # The warnings' CloudEvents ce_source and the dead letters' service field
    source_name: str = Field("risk-warnings", min_length=1, max_length=200)

    @field_validator("api_token_file", "api_read_token_file", "pseudonym_key_file")
    @classmethod
    def _readable(cls, v: Path | None, info) -> Path | None:
        if v is not None:
            inline = info.field_name.removesuffix("_file")
            if info.data.get(inline) is not None:
                raise ValueError(f"{inline} is set too: set one of them")
            if not v.is_file():
                raise ValueError(f"file not found: {v}")
            if info.field_name == "pseudonym_key_file":
                if len(v.read_text(encoding="utf-8").strip()) < 16:
                    raise ValueError(f"{v}: a key of at least 16 characters")
            else:
                auth.read_token_file(v, "the token in the file")  # empty, or not a usable token: say so now
        return v

    @field_validator("api_token", "api_read_token")
    @classmethod
    def _usable_token(cls, v: SecretStr | None) -> SecretStr | None:
        # set but empty is a mistake (an unset variable means "none"): refuse it, never echo it
        if v is not None:
            auth.check_token(v.get_secret_value(), "the token")
        return v

    @field_validator("pseudonym_key")
    @classmethod
    def _long_key(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value().strip()) < 16:
            raise ValueError("a key of at least 16 characters")
        return v

    @field_validator("api_tokens_file")
    @classmethod
    def _tokens_file(cls, v: Path | None) -> Path | None:
        if v is not None:
            auth.read_tokens_file(v)
        return v

    def token(self) -> str | None:
        """The shared acknowledging token, if any."""
        if self.api_token is not None:
            return self.api_token.get_secret_value().strip()
        if self.api_token_file is not None:
            return auth.read_token_file(self.api_token_file, "api_token_file")
        return None

    def read_token(self) -> str | None:
        """The shared read-only token, if any."""
        if self.api_read_token is not None:
            return self.api_read_token.get_secret_value().strip()
        if self.api_read_token_file is not None:
            return auth.read_token_file(self.api_read_token_file, "api_read_token_file")
        return None

    def pseudonym_secret(self) -> bytes:
        """The pseudonyms' HMAC key: the configured one, else one derived from app_id (not secret)."""
        if self.pseudonym_key is not None:
            return self.pseudonym_key.get_secret_value().strip().encode()
        if self.pseudonym_key_file is not None:
            return self.pseudonym_key_file.read_text(encoding="utf-8").strip().encode()
        return b"risk-warnings pseudonyms, not secret|" + self.app_id.encode()

    @field_validator("store")
    @classmethod
    def _store_installed(cls, v: str) -> str:
        if v.startswith("rocksdb"):
            try:
                import rocksdict  # noqa: F401  (Faust's rocksdb:// store)
            except ImportError:
                raise ValueError("rocksdb:// needs the rocksdict package: pip install "
                                 "'utility-risk-warnings[rocksdb]' (the Docker image has it)") from None
        return v

    @field_validator("rules_file", "districts_file", "notify_file")
    @classmethod
    def _exists(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_file():
            raise ValueError(f"file not found: {v}")
        return v

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # first wins: explicit overrides, then the environment, then the settings file
        file_settings = InitSettingsSource(settings_cls, init_kwargs=_FILE_DATA.get())
        return (init_settings, env_settings, file_settings, file_secret_settings)


def _setting_name(loc: tuple) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0].upper() in ("RISK_KAFKA_BOOTSTRAP", "KAFKA_BOOTSTRAP"):
        parts[0] = "kafka_bootstrap"
    return ".".join(parts) or "(settings)"


def _origin(name: str, env: dict[str, str], file_data: dict, file: str | None) -> str:
    env_names = ["RISK_" + name.replace(".", "__").upper()]
    if name == "kafka_bootstrap":
        env_names.append("KAFKA_BOOTSTRAP")
    for candidate in env_names:
        if candidate in env:
            return f"environment variable {candidate}"
    if file and name.split(".")[0] in file_data:
        return f"file {file}"
    return "defaults"


def _reject_unknown_variables(env) -> None:
    """A mistyped RISK_ variable would silently keep a default: refuse it."""
    known = {"RISK_CONFIG_FILE"}
    for name, info in Settings.model_fields.items():
        known.add(f"RISK_{name.upper()}")
        model = info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            known.update(f"RISK_{name.upper()}__{sub.upper()}" for sub in model.model_fields)
    for key in env:
        if key.startswith("RISK_") and key not in known:
            raise ConfigError(f"setting {key[5:].lower()} (from environment variable {key}): unknown setting")


def load_settings(env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Read settings; raise ConfigError naming the field and its source."""
    env = os.environ if env is None else env
    file = env.get("RISK_CONFIG_FILE")
    file_data: dict = {}
    if file:
        try:
            file_data = yaml.safe_load(Path(file).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"{file}: cannot read settings file: {e}") from None
        if not isinstance(file_data, dict):
            raise ConfigError(f"{file}: the settings file must be a mapping of setting: value")
    _reject_unknown_variables(env)
    saved = None
    if env is not os.environ:  # tests pass their own environment
        saved = os.environ.copy()
        os.environ.clear()
        os.environ.update(env)
    try:
        token = _FILE_DATA.set(file_data)
        try:
            return Settings(**overrides)
        finally:
            _FILE_DATA.reset(token)
    except ValidationError as e:
        err = e.errors()[0]
        name = _setting_name(err["loc"])
        raise ConfigError(f"setting {name} (from {_origin(name, env, file_data, file)}): {err['msg']}") from None
    finally:
        if saved is not None:
            os.environ.clear()
            os.environ.update(saved)


def load_districts(path: Path | None) -> dict[str, District]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: cannot read district reference data: {e}") from None
    return load_reference(data, str(path))


def load_notify(settings: Settings) -> NotifyConfig:
    if settings.notify_file is None:
        return NotifyConfig(default_group=settings.notify_default_group)
    path = settings.notify_file
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if isinstance(data, dict):
            data.setdefault("default_group", settings.notify_default_group)
        return load_notify_config(data, str(path))
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: cannot read notification settings: {e}") from None
    except ValueError as e:
        raise ConfigError(str(e)) from None


def _read_rules(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: cannot read rule configuration: {e}") from None


def load_rulebook(path: Path) -> RuleBook:
    """The shipped rules, overlaid by the file at `path` (core/rulebook.py `overlay`).

    A file that names one rule changes that rule only; every other rule runs
    as shipped. Errors name `path`.
    """
    defaults = _read_rules(DEFAULT_RULES)
    if Path(path).resolve() == DEFAULT_RULES.resolve():
        book = RuleBook.from_mapping(defaults, str(path))
        book.origins = {rule_id: "defaults" for rule_id in book.rules}
        return book
    data = _read_rules(path)
    book = RuleBook.from_mapping(overlay(defaults, data), str(path))
    book.origins = overlay_origins(book.rules, data, str(path), defaults)
    return book
