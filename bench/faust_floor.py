"""What Faust itself costs: one agent over the input topics that decodes each value and does nothing else.

    .venv/bin/python -m bench.faust_floor BOOTSTRAP APP_ID N TOPIC...

Started by bench.run (part "floor") on the topics the load part filled. The
agent reads them as the service's ingest agent does (raw bytes, the same
batches: `take_events(1000, within=0.02)`), `json.loads` each value (as the
raw drain does) and stops once it has seen N events. It prints one JSON line:
seconds from the first record to the last, and the CPU seconds in between. The
service can go no faster than this with Faust's per-message stream iteration.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time


def main() -> int:
    bootstrap, app_id, n, topics = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    import faust
    from faust.worker import Worker

    app = faust.App(app_id, broker=f"kafka://{bootstrap}", store="memory://", web_enabled=False,
                    consumer_auto_offset_reset="earliest", datadir=f"/tmp/{app_id}-data")
    source = app.topic(*topics, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    seen = [0, 0.0, 0.0]  # events, wall and CPU time at the first record

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    @app.agent(source)
    async def drain(stream):
        async for events in stream.take_events(1000, within=0.02):
            if not seen[0]:
                seen[1], seen[2] = time.perf_counter(), cpu()
            for event in events:
                json.loads(event.message.value)
            seen[0] += len(events)
            if seen[0] >= n:
                print(json.dumps({"events": seen[0], "seconds": time.perf_counter() - seen[1],
                                  "cpu_s": cpu() - seen[2]}), flush=True)
                os._exit(0)  # nothing to commit or clean up: a throwaway group

    Worker(app, loglevel="warning", quiet=True).execute_from_commandline()
    return 0


if __name__ == "__main__":
    sys.exit(main())
