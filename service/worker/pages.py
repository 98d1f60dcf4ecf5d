"""The worker's own HTTP pages: /metrics for Prometheus and /healthz. Both are open.

The HTTP API and the board install their pages themselves (service/api.py,
service/board.py); Faust's own pages are off (service/app.py FAUST_PAGES_OFF).
"""

from __future__ import annotations

from prometheus_client import generate_latest

from .. import metrics
from ..config import Settings
from ..webcache import CachedBody
from .health import BrokerWatch

METRICS_CACHE_SECONDS = 1.0  # /metrics is rendered at most this often, in a thread


def install(app, settings: Settings, watch: BrokerWatch) -> None:
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
        silence = watch.silence()
        healthy = silence < watch.keepalive + 10 * settings.tick_seconds + 5
        return web.json({"status": "ok" if healthy else "broker_unreachable",
                         "clock": settings.clock, "broker_acknowledged_seconds_ago": round(silence, 1)})
