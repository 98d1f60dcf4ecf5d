r"""The Faust adapter: Kafka topics and tables wrapped as the shell's parts (service/shell.py).

Topology (every name from Settings):

  input topics --ingest--> applied in process when this worker owns the subject's partition
        |            \---> <app>-work (to the subject's home partition) --process--> risk-warnings
        \--> dead-letters                ^                                        \-> dead-letters
                clock timer: owned partitions ticked in process, a tick record elsewhere

`ingest` validates each raw message against the contract and dead-letters
what fails. Each state key ("ticket:T1") has a home partition, the one a
contract producer puts entity T1 in; input partition p, work partition p and
state partition p are assigned together (Faust co-partitions topics of equal
partition count). The shell applies an event, or one derived from it, where
it is read when this worker owns the key's home partition, and sends it
there on the work topic otherwise, where `process` applies it. `process`
also applies tick records and acknowledgements. The timer ticks the work
partitions this worker owns in process, once everything it sent them before
it owned them has been applied (a tick record of its own came back through
each), and sends one tick record, carrying the "done up to" marks of the
partitions it owns, to each other partition when it has something new to
say: at most P records per interval, none from a quiet worker that owns
every partition but a keep-alive for the broker watchdog. The clock's "now"
is wall time, or the event-time watermark when replaying.

Every agent reads in batches (`take_events`, service/batch.py): Kafka
records, not rules, set the worker's speed, so a batch writes each state key
it changed once, at its end, and sends what it derived as one work record per
target partition and its warnings as one notify record per recipient group.

`create_app` builds the Faust app, its topics and tables, and wires the
parts that do each step: one module each under service/worker/ (its
__init__ lists them in the order an event meets them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import faust

from . import api, board, metrics
from .auth import Authenticator
from .config import Settings, load_districts, load_notify, load_rulebook
from .core.clock import EventClock, PartitionClocks
from .core.engine import Engine
from .core.notify import Notifier
from .core.wakeups import Wakeups
from .faust_fixes import FlowControl, Transport, VisibleTopic
from .privacy import Pseudonyms
from .shell import Shell
from .worker import pages
from .worker.acks import Acknowledgements
from .worker.clock import ClockTimer
from .worker.finish import Finish
from .worker.health import BrokerWatch, ConsumerLag
from .worker.ingest import Ingest
from .worker.inputs import InputProgress
from .worker.notify import Notify
from .worker.process import Process
from .worker.publish import KafkaPublisher
from .worker.rebalance import Rebalance
from .worker.tables import TableStore, TableStorm, home_partitions, store_options

DAY = 86400.0

# Faust's own web pages are off: /table/ reads any table key (an account's whole state), /router/
# shows the cluster's layout, the statistics and graph pages the worker's internals. Nothing
# here uses @table_route, the one thing /router/ is for.
FAUST_PAGES_OFF = {"web_tables_enabled": False, "web_router_enabled": False, "web_stats_enabled": False,
                   "web_graph_enabled": False, "web_metrics_enabled": False}


def faust_app(settings: Settings, **faust_options) -> faust.App:
    """The Faust app, with the service's transport and flow control (service/faust_fixes.py)."""
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{h}" for h in settings.kafka_bootstrap.split(",")],
        broker_credentials=settings.kafka_security.faust_credentials(),
        store=settings.store,
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=True,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout_seconds,
        Topic=VisibleTopic,  # internal topics must be in the metadata before the first assignment
        **{**FAUST_PAGES_OFF, **faust_options},
    )
    # rewinds never-committed partitions, and fetches as configured (faust_fixes)
    app.transport = Transport(app.conf.broker_consumer, app, fetch_min_bytes=settings.fetch_min_bytes,
                              fetch_max_wait_ms=settings.fetch_max_wait_ms)
    app.flow_control = FlowControl(loop=app.loop)  # keeps events queued during a recovery's seek (faust_fixes)
    return app


@dataclass
class Streams:
    """The app's topics and tables."""

    inputs: faust.TopicT  # every input topic, raw bytes
    warnings: faust.TopicT  # risk-warnings
    dead_letters: faust.TopicT
    acks: faust.TopicT  # warning-acks, written by the HTTP API
    notifications: faust.TopicT  # risk-notifications, the SMS feed
    work: faust.TopicT  # <app>-work: events, ticks and acks to a state key's home partition
    to_notify: faust.TopicT  # <app>-notify: warnings re-keyed by recipient group, and ticks
    state: faust.Table  # every subject's state
    storm: faust.GlobalTable  # district -> in storm mode
    firing: faust.GlobalTable  # fingerprint -> the warning firing now, its state key and acknowledgement
    groups: faust.Table  # recipient group -> rate limits and what was sent


def declare_streams(app: faust.App, settings: Settings) -> Streams:
    topics = settings.topics

    def raw_topic(*names: str, **kw) -> faust.TopicT:
        return app.topic(*names, key_type=bytes, value_type=bytes,
                         key_serializer="raw", value_serializer="raw", **kw)

    def json_schema() -> faust.Schema:
        return faust.Schema(key_serializer="json", value_serializer="json")

    # The internal topics hold derived events, acks, warnings for the notify agent and the few
    # clock ticks; nothing in them is applied once older than the state's retention, so they keep
    # no more than that (set when Faust creates them; an existing topic keeps its setting).
    internal_retention = timedelta(days=settings.retention_days)
    return Streams(
        inputs=raw_topic(*topics.inputs),
        warnings=raw_topic(topics.risk_warnings),
        dead_letters=raw_topic(topics.dead_letters),
        acks=raw_topic(topics.warning_acks),
        notifications=raw_topic(topics.risk_notifications),
        work=app.topic(f"{settings.app_id}-work", internal=True, partitions=settings.partitions,
                       retention=internal_retention, key_serializer="json", value_serializer="json"),
        # Notification state is per recipient group; warnings are re-keyed by group
        # so one partition owns each group's rate limit and memory of what was sent.
        to_notify=app.topic(f"{settings.app_id}-notify", internal=True, partitions=settings.partitions,
                            retention=internal_retention, key_serializer="json", value_serializer="json"),
        state=app.Table("state", default=None, partitions=settings.partitions, **store_options(settings.store),
                        schema=json_schema()),
        # Which districts are in storm mode, on every worker: per-ticket warnings
        # live on other partitions than their district's storm warning.
        storm=app.GlobalTable("storm-mode", default=None, partitions=settings.partitions,
                              **store_options(settings.store), schema=json_schema()),
        # Warnings firing now, by fingerprint, on every replica: the HTTP API lists
        # them and routes acknowledgements to the state key that owns each one.
        firing=app.GlobalTable("firing", default=None, partitions=settings.partitions,
                               **store_options(settings.store), schema=json_schema()),
        groups=app.Table("notify-groups", default=None, partitions=settings.partitions,
                         **store_options(settings.store), schema=json_schema()),
    )


def create_app(settings: Settings, **faust_options) -> faust.App:
    rulebook = load_rulebook(settings.rules_file)
    districts = load_districts(settings.districts_file)
    authenticator = Authenticator(settings)  # ConfigError on conflicting credentials, before any Kafka
    pseudonyms = Pseudonyms.from_settings(settings)  # board, API reads and logs; not the topics
    app = faust_app(settings, **faust_options)
    streams = declare_streams(app, settings)

    # The functional core and the shell around it (service/core, service/shell.py)
    notifier = Notifier(load_notify(settings), districts)
    storm_districts = TableStorm(streams.storm)
    engine = Engine(rulebook, retention_seconds=settings.retention_days * DAY, districts=districts,
                    storm_districts=storm_districts,
                    max_ahead_seconds=settings.max_clock_skew_seconds,
                    max_account_entries=settings.max_account_entries, state_budget=settings.state_budget_kib * 1024,
                    max_open_seconds=settings.max_open_days * DAY)
    event_clock = EventClock(settings.event_clock_idle_seconds, settings.event_clock_lateness_seconds,
                             settings.max_clock_skew_seconds)
    wakeups = Wakeups()
    district_labels = metrics.DistrictLabels(set(districts), settings.max_district_labels)
    firing = metrics.FiringWarnings(district_labels)
    # a worker silent as long as it takes a partition to idle may be dead, with unread events:
    # its "idle" no longer lets the clock jump to the end of a replay (PartitionClocks.tick)
    clocks = PartitionClocks(settings.partitions, liveness_seconds=settings.event_clock_idle_seconds,
                             max_ahead_seconds=settings.max_clock_skew_seconds)
    home = home_partitions(settings.partitions)
    owned_work: set[int] = set()  # work partitions assigned to this worker now
    publisher = KafkaPublisher(settings.source_name, streams.warnings, streams.dead_letters, streams.work,
                               streams.to_notify, streams.firing, notifier, pseudonyms)
    shell = Shell(engine, publisher, TableStore(streams.state, home), clocks, settings.partitions, home,
                  owns=owned_work.__contains__, wakeups=wakeups, firing=firing, district_labels=district_labels,
                  districts=districts, describe_key=pseudonyms.state_key, storm=storm_districts)

    # The Faust side: one part per step (service/worker/), each given what it works with
    dead_letter = publisher.dead_letter
    finish = Finish(shell, event_clock)
    progress = InputProgress(settings, event_clock, app)
    watch = BrokerWatch(settings.broker_unreachable_exit_seconds)
    notify = Notify(settings, notifier, streams.to_notify, streams.notifications, streams.groups,
                    assignment=lambda: app.consumer.assignment())
    clock = ClockTimer(settings, app, streams.work, shell, owned_work, event_clock, clocks, progress, finish,
                       notify, watch)
    ingest = Ingest(settings, shell, dead_letter, finish, progress, told=lambda: clock.told)
    process = Process(settings, shell, dead_letter, finish, heard=clock.heard)
    acknowledgements = Acknowledgements(streams.firing, streams.work, home, dead_letter)
    rebalance = Rebalance(app, streams.work, settings.topics.inputs, owned_work, shell, clock, progress, firing)

    # An agent's name is its id in Faust (app.agents, its logs and monitor): each keeps the one it always had.
    app.agent(streams.inputs, name="service.app.ingest")(ingest.agent)
    app.agent(streams.work, name="service.app.process")(process.agent)
    app.agent(streams.acks, name="service.app.acknowledgements")(acknowledgements.agent)
    app.agent(streams.to_notify, name="service.app.notify")(notify.agent)
    app.timer(settings.tick_seconds, name="clock_tick")(clock.tick)
    app.timer(1.0, name="broker_watchdog")(watch.watchdog)
    app.timer(15.0, name="measure_consumer_lag")(ConsumerLag(app, settings.topics.inputs).measure)
    app.on_partitions_revoked.connect(rebalance.on_revoked)
    app.on_partitions_assigned.connect(rebalance.on_assigned)

    service_clock = board.gauge_reader(metrics.clock)  # the worker's clock as of its last tick (0: none yet)
    api.install(app, streams.firing, streams.acks, authenticator, pseudonyms, clock=service_clock)
    board.install(app, streams.firing, settings.topics.risk_warnings, settings, authenticator, pseudonyms,
                  clock=service_clock)
    pages.install(app, settings, watch)

    app.risk = {"settings": settings, "engine": engine, "wakeups": wakeups, "state": streams.state,
                "work": streams.work, "publish": publisher.warnings, "send_notifications": notify.send_notifications,
                "shell": shell, "tick": clock.tick}
    return app
