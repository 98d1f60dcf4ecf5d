"""Command line: `risk-warnings worker | topics | follow | watch | demo`."""

from __future__ import annotations

import argparse
import gc
import logging
import sys

from .core.rulebook import ConfigError, describe

log = logging.getLogger(__name__)


def _settings():
    from .config import load_districts, load_notify, load_rulebook, load_settings

    settings = load_settings()
    load_rulebook(settings.rules_file)  # fail before touching Kafka
    load_districts(settings.districts_file)
    load_notify(settings)
    from .auth import Authenticator

    Authenticator(settings)  # one token for two credentials: say so before touching Kafka
    settings.kafka_security.check_accepted(settings.kafka_bootstrap)  # a wrong password: say so, now
    return settings


# Python's cyclic garbage collector, at its defaults (700, 10, 10), ran a full collection of
# the worker's heap every ~3 s at 2 000 events/s live, 130-280 ms each, and 7 % of the
# worker's CPU in all: the heap is mostly state values (dicts and lists, no cycles), scanned
# again and again. A young generation of 50 000 objects makes the collections rare (none
# full in a 40 s run; by the young ones' rate, one every ~15 min at that load); cycles are
# still collected (docs/benchmarks.md, seventh round).
GC_THRESHOLDS = (50_000, 20, 10)


def cmd_worker(args) -> int:
    gc.set_threshold(*GC_THRESHOLDS)
    settings = _settings()
    from .faust_fixes import check_pinned_versions

    check_pinned_versions(settings.allow_unpinned_faust)  # the patches know only the pinned Faust and aiokafka
    from .app import create_app
    from .logfilter import quieten_kafka_clients
    from .topics import ensure_topics, warn_if_unreplicated

    quieten_kafka_clients()  # a broker outage: one line per message and 30 s, not thousands a second
    log_rules(settings)
    if settings.create_topics:
        ensure_topics(settings)
    else:
        warn_if_unreplicated(settings)  # Faust still creates its internal topics
    app = create_app(settings)
    worker_for(app, settings.log_level).execute_from_commandline()
    return 0


def log_rules(settings) -> None:
    """Which rules run, and where each one's configuration came from."""
    from .config import DEFAULT_RULES, load_rulebook

    book = load_rulebook(settings.rules_file)
    on = sum(rc.enabled for rc in book.rules.values())
    shipped = DEFAULT_RULES.resolve() == settings.rules_file.resolve()
    log.info("rules: %d of %d on; shipped defaults %s%s", on, len(book.rules), DEFAULT_RULES,
             "" if shipped else f" overlaid by {settings.rules_file}")
    for line in describe(book):
        log.info("%s", line)


def worker_for(app, loglevel: str):
    """Faust's worker, without its terminal spinner.

    At a log level of WARNING or above, Faust's spinner sets the root logger to
    DEBUG so that every record turns it: every Kafka send then builds a debug
    record nobody prints (aiokafka and Faust log each one), ~10 % of the CPU
    in a profile of a Faust agent that sends one record per event.
    """
    from faust.worker import Worker

    class _Worker(Worker):
        def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
            super().on_setup_root_logger(logger, level)
            for handler in logger.handlers:
                if handler.formatter is not None:
                    handler.setFormatter(OwnLinesPlain(handler.formatter))

    worker = _Worker(app, loglevel=loglevel, quiet=True)
    worker.spinner = None
    return worker


class OwnLinesPlain(logging.Formatter):
    """Formats this service's own log lines with the standard library, and the rest as before.

    Faust's formatter (mode's, on colorlog) passes every argument through a
    registry of formatters (it draws Faust's partition-assignment tables) and
    took ~70 us a line against ~13 us: with a line per warning published, 4 %
    of the worker's CPU in a replay. Our lines never needed it; they lose the
    level colours on a terminal.
    """

    def __init__(self, others: logging.Formatter):
        super().__init__("[%(asctime)s] [%(process)s] [%(levelname)s] %(message)s")
        self.others = others

    def format(self, record: logging.LogRecord) -> str:
        if record.name == "service" or record.name.startswith("service."):
            return super().format(record)
        return self.others.format(record)


def cmd_topics(args) -> int:
    from .topics import ensure_topics

    created = ensure_topics(_settings())
    print("created: " + (", ".join(created) or "nothing (all present)"))
    return 0


def cmd_follow(args) -> int:
    from .follow import follow

    return follow(_settings(), from_beginning=args.from_beginning, limit=args.limit)


def cmd_watch(args) -> int:
    from .follow import watch

    return watch(_settings(), hold_seconds=args.hold)


def cmd_demo(args) -> int:
    from .demo import run_demo

    return run_demo(_settings(), speed=args.speed, minutes=args.minutes, seed=args.seed)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "sim":  # the simulator, replays and quality report have their own commands
        from .sim.cli import main as sim_main

        return sim_main(argv[1:])
    parser = argparse.ArgumentParser(prog="risk-warnings", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("worker", help="run the Faust worker").set_defaults(func=cmd_worker)
    sub.add_parser("topics", help="create the contract's topics when missing").set_defaults(func=cmd_topics)
    sub.add_parser("sim", help="simulator, real-data replays, detection quality (see: sim --help)")
    f = sub.add_parser("follow", help="print warning state changes as they are published")
    f.add_argument("--from-beginning", action="store_true")
    f.add_argument("--limit", type=int, default=None, help="stop after this many warnings")
    f.set_defaults(func=cmd_follow)
    w = sub.add_parser("watch", help="the demo's terminal: changes in event-time order, a running summary, "
                                     "a table per rule on SIGUSR1")
    w.add_argument("--hold", type=float, default=2.0, help="wall seconds a change waits for earlier ones")
    w.set_defaults(func=cmd_watch)
    d = sub.add_parser("demo", help="produce a small realistic event stream in accelerated event time")
    d.add_argument("--speed", type=float, default=60.0, help="event-time seconds per wall second")
    d.add_argument("--minutes", type=float, default=180.0, help="event-time minutes to simulate")
    d.add_argument("--seed", type=int, default=7)
    d.set_defaults(func=cmd_demo)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)  # kafka-python is chatty at INFO
    try:
        return args.func(args)
    except ConfigError as e:
        print(f"configuration error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
