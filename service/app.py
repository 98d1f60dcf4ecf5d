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
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import time
import uuid
from datetime import timedelta
from types import SimpleNamespace

import faust
from prometheus_client import generate_latest

from . import api, board, metrics
from .auth import Authenticator
from .batch import Batch
from .config import Settings, load_districts, load_notify, load_rulebook
from .core.clock import EventClock, PartitionClocks
from .core.engine import Engine
from .core.notify import Notifier
from .core.wakeups import Wakeups
from .faust_fixes import FlowControl, Transport, VisibleTopic, committed_offset, send_to
from .logfilter import escaping_logger
from .privacy import Pseudonyms
from .shell import Shell
from .webcache import CachedBody
from .worker.acks import Acknowledgements
from .worker.finish import Finish
from .worker.ingest import Ingest
from .worker.inputs import InputProgress
from .worker.notify import Notify
from .worker.process import Process
from .worker.publish import KafkaPublisher
from .worker.tables import TableStore, TableStorm, home_partitions, store_options

log = escaping_logger(__name__)  # values from producers are escaped: one record, one line

DAY = 86400.0
WATCHDOG_KEEPALIVE_SECONDS = 30.0  # a worker that has nothing to tick still writes a tick this often


# Faust's own web pages are off: /table/ reads any table key (an account's whole state), /router/
# shows the cluster's layout, the statistics and graph pages the worker's internals. Nothing
# here uses @table_route, the one thing /router/ is for.
FAUST_PAGES_OFF = {"web_tables_enabled": False, "web_router_enabled": False, "web_stats_enabled": False,
                   "web_graph_enabled": False, "web_metrics_enabled": False}
METRICS_CACHE_SECONDS = 1.0  # /metrics is rendered at most this often, in a thread


def create_app(settings: Settings, **faust_options) -> faust.App:
    rulebook = load_rulebook(settings.rules_file)
    districts = load_districts(settings.districts_file)
    authenticator = Authenticator(settings)  # ConfigError on conflicting credentials, before any Kafka
    pseudonyms = Pseudonyms.from_settings(settings)  # board, API reads and logs; not the topics
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
    topics = settings.topics

    def raw_topic(*names: str, **kw) -> faust.TopicT:
        return app.topic(*names, key_type=bytes, value_type=bytes,
                         key_serializer="raw", value_serializer="raw", **kw)

    inputs = raw_topic(*topics.inputs)
    warnings_topic = raw_topic(topics.risk_warnings)
    dead_letters = raw_topic(topics.dead_letters)
    # The internal topics hold derived events, acks, warnings for the notify agent and the few
    # clock ticks; nothing in them is applied once older than the state's retention, so they keep
    # no more than that (set when Faust creates them; an existing topic keeps its setting).
    internal_retention = timedelta(days=settings.retention_days)
    work = app.topic(f"{settings.app_id}-work", internal=True, partitions=settings.partitions,
                     retention=internal_retention,
                     key_serializer="json", value_serializer="json")
    state = app.Table("state", default=None, partitions=settings.partitions, **store_options(settings.store),
                      schema=faust.Schema(key_serializer="json", value_serializer="json"))

    # Which districts are in storm mode, on every worker: per-ticket warnings
    # live on other partitions than their district's storm warning.
    storm = app.GlobalTable("storm-mode", default=None, partitions=settings.partitions,
                            **store_options(settings.store),
                            schema=faust.Schema(key_serializer="json", value_serializer="json"))
    storm_districts = TableStorm(storm)
    # Warnings firing now, by fingerprint, on every replica: the HTTP API lists
    # them and routes acknowledgements to the state key that owns each one.
    firing_table = app.GlobalTable("firing", default=None, partitions=settings.partitions,
                                   **store_options(settings.store),
                                   schema=faust.Schema(key_serializer="json", value_serializer="json"))
    acks_in = raw_topic(topics.warning_acks)
    notifications_out = raw_topic(topics.risk_notifications)
    # Notification state is per recipient group; warnings are re-keyed by group
    # so one partition owns each group's rate limit and memory of what was sent.
    to_notify = app.topic(f"{settings.app_id}-notify", internal=True, partitions=settings.partitions,
                          retention=internal_retention,
                          key_serializer="json", value_serializer="json")
    groups = app.Table("notify-groups", default=None, partitions=settings.partitions,
                       **store_options(settings.store),
                       schema=faust.Schema(key_serializer="json", value_serializer="json"))
    notifier = Notifier(load_notify(settings), districts)
    engine = Engine(rulebook, retention_seconds=settings.retention_days * DAY, districts=districts,
                    storm_districts=storm_districts,
                    max_ahead_seconds=settings.max_clock_skew_seconds,
                    max_account_entries=settings.max_account_entries, state_budget=settings.state_budget_kib * 1024,
                    max_open_seconds=settings.max_open_days * DAY)

    skew = settings.max_clock_skew_seconds
    event_clock = EventClock(settings.event_clock_idle_seconds, settings.event_clock_lateness_seconds, skew)
    wakeups = Wakeups()
    district_labels = metrics.DistrictLabels(set(districts), settings.max_district_labels)
    firing = metrics.FiringWarnings(district_labels)
    # a worker silent as long as it takes a partition to idle may be dead, with unread events:
    # its "idle" no longer lets the clock jump to the end of a replay (PartitionClocks.tick)
    clocks = PartitionClocks(settings.partitions, liveness_seconds=settings.event_clock_idle_seconds,
                             max_ahead_seconds=skew)
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    tick_seq = itertools.count(1)
    coverage = [(0, 0)]  # (consumer generation, input partitions read) as the event clock knows them
    told = [float("-inf")]  # the highest clock this worker's ticks have carried (event clock: too_old)

    home = home_partitions(settings.partitions)
    owned_work: set[int] = set()  # work partitions assigned to this worker now
    publisher = KafkaPublisher(settings.source_name, warnings_topic, dead_letters, work, to_notify, firing_table,
                               notifier, pseudonyms)
    send_dead_letter = publisher.dead_letter
    shell = Shell(engine, publisher, TableStore(state, home), clocks, settings.partitions, home, owns=owned_work.__contains__,
                  wakeups=wakeups, firing=firing, district_labels=district_labels, districts=districts,
                  describe_key=pseudonyms.state_key, storm=storm_districts)

    finish = Finish(shell, event_clock)
    progress = InputProgress(settings, event_clock, app)
    ingest = Ingest(settings, shell, send_dead_letter, finish, progress, told=lambda: told[0])
    process = Process(settings, shell, send_dead_letter, finish, heard=lambda p, tick: heard(p, tick))
    acknowledgements = Acknowledgements(firing_table, work, home, send_dead_letter)
    # An agent's name is its id in Faust (app.agents, its logs and monitor): each keeps the one it always had.
    app.agent(inputs, name="service.app.ingest")(ingest.agent)
    app.agent(work, name="service.app.process")(process.agent)
    app.agent(acks_in, name="service.app.acknowledgements")(acknowledgements.agent)

    service_clock = board.gauge_reader(metrics.clock)  # the worker's clock as of its last tick (0: none yet)
    api.install(app, firing_table, acks_in, authenticator, pseudonyms, clock=service_clock)
    board.install(app, firing_table, topics.risk_warnings, settings, authenticator, pseudonyms, clock=service_clock)

    notify = Notify(settings, notifier, to_notify, notifications_out, groups,
                    assignment=lambda: app.consumer.assignment())
    app.agent(to_notify, name="service.app.notify")(notify.agent)

    @app.timer(settings.tick_seconds)
    async def clock_tick():
        await tick_once()

    async def tick_once():
        """Every interval, bring this worker's clock to every work partition, linearly in partitions.

        A partition this worker owns, and whose work-topic backlog from before it owned it is
        applied (`synced`), is ticked in process: its due keys evaluated, what they derived
        sent, and the marks of every partition owned here applied. Every other partition gets
        one tick record carrying the marks of the partitions owned here, and only when what it
        says has changed (or for liveness every few seconds): at most P records an interval
        per worker, none at all on a quiet worker owning every partition but a rare keep-alive.
        """
        wall = time.time()
        if settings.clock == "event":
            await progress.measure_backlog()
            now, peak, idle = event_clock.now(wall), event_clock.peak(), event_clock.all_idle(wall)
            if idle and clocks.peak() > float("-inf"):  # as far as any worker read
                now = max(now if now is not None else float("-inf"), clocks.peak())
        else:
            now, peak, idle = wall, wall, False
        counts = [app.consumer.topic_partitions(t) for t in topics.inputs]
        generation, owned = coverage[0]  # the input partitions its clock covers
        tick = {"kind": "tick", "now": now, "idle": idle, "peak": None if peak == float("-inf") else peak,
                "worker": worker_id, "seq": next(tick_seq), "wall": wall, "gen": generation, "owned": owned,
                "total": None if None in counts else sum(counts)}
        last_seq[0] = tick["seq"]
        if now is not None:
            metrics.clock.set(now)
            told[0] = max(told[0], now)
        if broker_acknowledged[0] is None:  # timers start once the first recovery is over
            broker_acknowledged[0] = wall
        local = sorted(p for p in synced if p in owned_work)
        if local:
            batch = Batch()
            batch.source = SimpleNamespace(topic=work.get_topic_name(), partition=local[0], offset=0, key=None,
                                           value=b"")
            for p in local:
                await shell.on_tick(p, tick, batch)
            marks = shell.own_marks()
            if marks:
                for p in local:
                    await shell.on_marks(p, marks, batch)
            await finish("clock", batch)
        tick["marks"] = {str(p): t for p, t in shell.own_marks().items()}
        said = {k: v for k, v in tick.items() if k not in ("seq", "wall")}
        remote = [p for p in range(settings.partitions) if p not in local]
        if not remote and wall - last_tick_sent[0] >= watchdog_keepalive:
            remote = [next(keepalive_turn) % settings.partitions]  # Kafka must still be heard from (watchdog)
        fresh = wall - last_tick_sent[0] < keepalive
        sent_any = False
        for p in remote:
            if fresh and ticked.get(p) == said:
                continue  # it would say nothing new
            ticked[p] = said
            sent = await send_to(work, value=tick, partition=p)
            sent.add_done_callback(note_acknowledged)
            sent_any = True
        if sent_any:
            last_tick_sent[0] = wall
        if now is not None:
            await notify.tick(now)

    ticked: dict[int, dict] = {}  # work partition -> what the last tick record sent to it said
    last_tick_sent = [0.0]  # wall time of the last tick record sent
    keepalive = settings.event_clock_idle_seconds / 2  # ticks this fresh keep a worker alive to others
    # the watchdog hears Kafka through acknowledged ticks: one at least this often
    watchdog_keepalive = min(WATCHDOG_KEEPALIVE_SECONDS, settings.broker_unreachable_exit_seconds / 4)
    keepalive_turn = itertools.count()
    synced: set[int] = set()  # owned work partitions that receive this worker's ticks in process
    synced_after = [0]  # a tick of this worker with a higher seq was sent after the last assignment
    last_seq = [0]  # the seq of this worker's last tick

    def heard(partition: int, tick: dict) -> None:
        if tick.get("worker") == worker_id and tick.get("seq", 0) > synced_after[0]:
            synced.add(partition)  # all this worker sent here before it owned it is applied

    broker_acknowledged: list[float | None] = [None]  # when Kafka last acknowledged a tick of this worker

    def note_acknowledged(sent) -> None:
        if not sent.cancelled() and sent.exception() is None:
            broker_acknowledged[0] = time.time()

    def broker_silence() -> float:
        return 0.0 if broker_acknowledged[0] is None else time.time() - broker_acknowledged[0]

    @app.timer(1.0)
    async def broker_watchdog():
        """Exit (code 3) for the supervisor when the broker has been away too long (config.py)."""
        if broker_silence() > settings.broker_unreachable_exit_seconds:
            log.critical("no write acknowledged by Kafka for %.0f s (RISK_BROKER_UNREACHABLE_EXIT_SECONDS=%g): "
                         "exiting with code 3 for the supervisor to restart this worker; nothing was committed "
                         "since, the input is read again", broker_silence(), settings.broker_unreachable_exit_seconds)
            logging.shutdown()
            os._exit(3)  # a graceful stop would wait on the unreachable broker to flush

    @app.on_partitions_revoked.connect
    async def on_revoked(app, revoked, **kwargs):
        owned_work.difference_update(tp.partition for tp in revoked if tp.topic == work.get_topic_name())
        synced.difference_update(tp.partition for tp in revoked if tp.topic == work.get_topic_name())

    @app.on_partitions_assigned.connect
    async def on_assigned(app, assigned, **kwargs):
        owned_work.clear()
        owned_work.update(tp.partition for tp in assigned if tp.topic == work.get_topic_name())
        synced.clear()  # ticked by records until this worker's first tick after now comes back through each
        synced_after[0] = last_seq[0]
        ticked.clear()
        shell.forget_partitions()  # ownership changed: wakeups rebuilt from the table on the next tick
        firing.clear()
        sources = [(tp.topic, tp.partition) for tp in assigned if tp.topic in topics.inputs]
        # Only now may ticks speak for the new partitions: the generation id changes before this
        # signal, and a tick in between would claim them with the old partitions' clock.
        coverage[0] = (app.consumer_generation_id, len(sources))
        progress.assigned(sources)

    @app.timer(15.0)
    async def measure_consumer_lag():
        assigned = [tp for tp in app.consumer.assignment() if tp.topic in topics.inputs]
        # every input topic gets a value: one this worker lost in a rebalance is 0 here, not stale
        lag: dict[str, int] = dict.fromkeys(topics.inputs, 0)
        ends = await app.consumer.highwaters(*assigned) if assigned else {}
        for tp in assigned:
            # faust keeps no public accessor for the committed offset; this is read-only
            committed = committed_offset(app.consumer, tp) or 0
            lag[tp.topic] += max(ends.get(tp, 0) - committed, 0)
        for topic, n in lag.items():
            metrics.consumer_lag.labels(topic).set(n)

    exposition = CachedBody(lambda: metrics.REGISTRY, generate_latest, METRICS_CACHE_SECONDS)

    @app.page("/metrics")
    async def metrics_page(web, request):
        # Open, like /healthz: labels are rules, severities, districts, topics, never a person's id.
        # aiohttp refuses a charset inside content_type; the exposition format's
        # version parameter is what Prometheus reads.
        return web.bytes(await exposition.get(), content_type="text/plain; version=0.0.4")

    @app.page("/healthz")
    async def health(web, request):
        # 200 either way: a restart does not bring the broker back (the watchdog exits when it is long away).
        # An idle worker hears Kafka only through its keep-alive tick: silence up to that is health.
        silence = broker_silence()
        healthy = silence < watchdog_keepalive + 10 * settings.tick_seconds + 5
        return web.json({"status": "ok" if healthy else "broker_unreachable",
                         "clock": settings.clock, "broker_acknowledged_seconds_ago": round(silence, 1)})

    app.risk = {"settings": settings, "engine": engine, "wakeups": wakeups, "state": state, "work": work,
                "publish": publisher.warnings, "send_notifications": notify.send_notifications, "shell": shell,
                "tick": tick_once}
    return app
