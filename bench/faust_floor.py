"""What Faust itself costs: one agent over the input topics that decodes each value, and optionally
writes and sends as many Kafka records per event as the service does, with no rules.

    .venv/bin/python -m bench.faust_floor BOOTSTRAP APP_ID N TOPIC... [--writes W] [--sends S] [--loop-sends L]

Started by bench.run (parts "floor", "floor-service", "floor-records") on the topics the load
part filled. The agent reads them as the service's ingest agent does (raw
bytes, the same batches: `take_events` with the service's default RISK_BATCH_MAX and
RISK_BATCH_SECONDS), `json.loads` each
value (as the raw drain does) and stops once it has seen N events. It prints
one JSON line: seconds from the first record to the last, and the CPU seconds
in between. The service can go no faster than this with Faust's per-message
stream iteration.

With `--writes`, `--sends` and `--loop-sends` it also does, per input event on
average, what the service's design costs in Kafka records, with the service's
batching (service/batch.py) but none of its rules:

- W table writes (distinct keys, the event's value padded to a state's median
  size, 800 B), each once at the batch's end as the service writes its states:
  W changelog records;
- S records sent to an output topic nobody reads here (the warnings);
- L records sent to a topic of this app that a second agent reads and decodes
  (the service's firing table, work and notify topics: written and read back).

Fractions accumulate over events (W = 1.36: 136 writes per 100 events).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

from service.config import Settings

STATE_BYTES = 800  # the median state value of the mix (bench.core_cost)


# as the worker reads: the service's defaults
BATCH_MAX, BATCH_SECONDS = (Settings.model_fields[name].default for name in ("batch_max", "batch_seconds"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("bootstrap")
    p.add_argument("app_id")
    p.add_argument("n", type=int)
    p.add_argument("topics", nargs="+")
    p.add_argument("--writes", type=float, default=0.0, help="table writes (changelog records) per event")
    p.add_argument("--sends", type=float, default=0.0, help="records sent to an unread topic per event")
    p.add_argument("--loop-sends", type=float, default=0.0, help="records sent and read back per event")
    p.add_argument("--send-path", choices=("topic", "direct"), default="topic",
                   help="how --sends and --loop-sends go out: Topic.send, or service.faust_fixes.send_direct / "
                        "send_to (Faust's producer, not its topic), as the service sends")
    p.add_argument("--write-path", choices=("table", "direct"), default="table",
                   help="how --writes go: table[key] = value, or service.faust_fixes.write_direct, as the service writes")
    p.add_argument("--consumer", choices=("faust", "service"), default="faust",
                   help="Faust's consumer as shipped, or the service's (service.faust_fixes.Transport: its drain "
                        "loop hands a message over without mode's wait_first; fetch settings left at Faust's)")
    a = p.parse_args(argv)
    sys.argv = sys.argv[:1]  # the Faust worker parses the command line too

    import faust

    from service.cli import worker_for
    from service.faust_fixes import send_direct, send_to, set_current_event, write_direct

    app = faust.App(a.app_id, broker=f"kafka://{a.bootstrap}", store="memory://", web_enabled=False,
                    consumer_auto_offset_reset="earliest", datadir=f"/tmp/{a.app_id}-data", topic_partitions=8)
    if a.consumer == "service":
        from service.faust_fixes import Transport

        app.transport = Transport(app.conf.broker_consumer, app)
    source = app.topic(*a.topics, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    table = app.Table("state", default=None, partitions=8,
                      schema=faust.Schema(key_serializer="json", value_serializer="json"))
    out = app.topic(f"{a.app_id}-out", partitions=8, key_type=bytes, value_type=bytes,
                    key_serializer="raw", value_serializer="raw")
    back = app.topic(f"{a.app_id}-back", internal=True, partitions=8, key_serializer="json", value_serializer="json")
    seen = [0, 0.0, 0.0]  # events, wall and CPU time at the first record
    credit = {"writes": 0.0, "sends": 0.0, "loop": 0.0}
    pad = "x" * STATE_BYTES

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def take(name: str, per_event: float) -> int:
        credit[name] += per_event
        whole = int(credit[name])
        credit[name] -= whole
        return whole

    @app.agent(source)
    async def drain(stream):
        async for events in stream.take_events(BATCH_MAX, within=BATCH_SECONDS):
            if not seen[0]:
                seen[1], seen[2] = time.perf_counter(), cpu()
            states = {}  # key -> (value, an event of the batch): written once, at the batch's end
            for event in events:
                body = json.loads(event.message.value)
                for i in range(take("writes", a.writes)):
                    states[f"{body['event_id']}:{i}"] = ({"e": body, "pad": pad}, event)
                for _ in range(take("sends", a.sends)):
                    if a.send_path == "topic":
                        await out.send(key=event.message.key, value=event.message.value)
                    else:
                        await send_direct(app, out.get_topic_name(), event.message.key, event.message.value)
                for _ in range(take("loop", a.loop_sends)):
                    if a.send_path == "topic":
                        await back.send(key=None, value={"kind": "events", "items": [body]})
                    else:
                        await send_to(back, value={"kind": "events", "items": [body]})
            for key, (value, event) in states.items():
                set_current_event(event)
                if a.write_path == "table":
                    table[key] = value
                else:
                    await write_direct(table, key, value, event.message.partition)
            seen[0] += len(events)
            if seen[0] >= a.n:
                await app.producer.flush()  # what was sent is part of the cost
                print(json.dumps({"events": seen[0], "seconds": time.perf_counter() - seen[1],
                                  "cpu_s": cpu() - seen[2]}), flush=True)
                os._exit(0)  # nothing to commit or clean up: a throwaway group

    @app.agent(back)
    async def read_back(stream):
        async for events in stream.take_events(BATCH_MAX, within=BATCH_SECONDS):
            for event in events:
                len(event.value["items"])

    worker_for(app, "warning").execute_from_commandline()
    return 0


if __name__ == "__main__":
    sys.exit(main())
