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

from .core.notify import NotifyConfig, load_notify_config
from .core.reference import District, load_reference
from .core.rulebook import ConfigError, RuleBook
from .kafka_security import KafkaSecurity

PACKAGE_DIR = Path(__file__).parent
DEFAULT_RULES = PACKAGE_DIR / "defaults" / "rules.yaml"

TopicName = str
_FILE_DATA: ContextVar[dict] = ContextVar("settings_file_data", default={})  # the file load_settings is reading


class Topics(BaseModel):
    """Topic names; defaults are the contract's."""

    model_config = ConfigDict(extra="forbid")
    outage_events: TopicName = Field("outage-events", pattern=r"^[A-Za-z0-9._-]{1,249}$")
    repair_tickets: TopicName = Field("repair-tickets", pattern=r"^[A-Za-z0-9._-]{1,249}$")
    billing_events: TopicName = Field("billing-events", pattern=r"^[A-Za-z0-9._-]{1,249}$")
    service_events: TopicName = Field("service-events", pattern=r"^[A-Za-z0-9._-]{1,249}$")
    risk_warnings: TopicName = Field("risk-warnings", pattern=r"^[A-Za-z0-9._-]{1,249}$")
    risk_notifications: TopicName = Field("risk-notifications", pattern=r"^[A-Za-z0-9._-]{1,249}$")
    warning_acks: TopicName = Field("warning-acks", pattern=r"^[A-Za-z0-9._-]{1,249}$")
    dead_letters: TopicName = Field("dead-letters", pattern=r"^[A-Za-z0-9._-]{1,249}$")

    @property
    def inputs(self) -> list[str]:
        return [self.outage_events, self.repair_tickets, self.billing_events, self.service_events]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RISK_", env_nested_delimiter="__", extra="forbid")

    kafka_bootstrap: str = Field(
        "127.0.0.1:9092",
        validation_alias=AliasChoices("RISK_KAFKA_BOOTSTRAP", "KAFKA_BOOTSTRAP", "kafka_bootstrap"),
        pattern=r"^[^\s,]+:\d{1,5}(,[^\s,]+:\d{1,5})*$",
    )
    # TLS and SASL for every Kafka client (RISK_KAFKA_SECURITY__PROTOCOL, ...)
    kafka_security: KafkaSecurity = Field(default_factory=KafkaSecurity)
    app_id: str = Field("risk-warnings", pattern=r"^[A-Za-z0-9._-]{1,100}$")
    topics: Topics = Field(default_factory=Topics)
    partitions: int = Field(8, ge=1, le=1024)
    replication_factor: int = Field(1, ge=1, le=7)
    create_topics: bool = True
    clock: Literal["wall", "event"] = "wall"
    tick_seconds: float = Field(1.0, gt=0, le=300)
    # Messages are read in batches of up to batch_max, waiting at most batch_seconds for one
    # to fill: each state key is written once per batch, derived events travel together.
    # 50 ms, not 20: a live worker then uses 10-15 % less CPU (a district is rewritten
    # once per batch), which kept a slower 2-core machine out of saturation at 2 000
    # events/s, for 30-60 ms more latency per hop (docs/benchmarks.md, ninth round).
    batch_max: int = Field(1000, ge=1, le=100_000)
    batch_seconds: float = Field(0.05, gt=0, le=5)
    # The broker answers the worker's fetch once it has fetch_min_bytes for it, or after
    # fetch_max_wait_ms: fewer, fuller fetches under load (Kafka's fetch.min.bytes and
    # fetch.max.wait.ms). The wait is added to a warning's latency at most once per hop.
    fetch_min_bytes: int = Field(65536, ge=1, le=64 << 20)
    fetch_max_wait_ms: int = Field(50, ge=0, le=30_000)
    event_clock_idle_seconds: float = Field(5.0, gt=0)
    event_clock_lateness_seconds: float = Field(0.0, ge=0)
    retention_days: float = Field(7.0, gt=0, le=400)
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
    web_host: str = "0.0.0.0"
    web_port: int = Field(6066, ge=1, le=65535)
    store: str = Field("memory://", pattern=r"^(memory|rocksdb)://$")
    data_dir: Path = Path("var/worker")
    rules_file: Path = DEFAULT_RULES
    districts_file: Path | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # SMS notifications: rate limits, flapping, which transitions (service/core/notify.py NotifyConfig)
    notify_file: Path | None = None
    notify_default_group: str = Field("ops-centre", min_length=1, max_length=64)
    # Bearer token for the HTTP API's writes (acknowledgements). From the
    # environment or a file (a mounted secret); never logged. Unset: writes refused.
    api_token: SecretStr | None = None
    api_token_file: Path | None = None
    source_name: str = Field("risk-warnings", min_length=1, max_length=200)

    @field_validator("api_token_file")
    @classmethod
    def _readable(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_file():
            raise ValueError(f"file not found: {v}")
        return v

    def token(self) -> str | None:
        if self.api_token is not None:
            return self.api_token.get_secret_value()
        if self.api_token_file is not None:
            return self.api_token_file.read_text(encoding="utf-8").strip() or None
        return None

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


def load_rulebook(path: Path) -> RuleBook:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: cannot read rule configuration: {e}") from None
    return RuleBook.from_mapping(data, str(path))
