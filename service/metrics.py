"""The service's own Prometheus metrics, in one registry served at /metrics.

Labels are low-cardinality only (topic, event type, reason, rule, severity):
never a ticket, outage or account id.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

REGISTRY = CollectorRegistry(auto_describe=True)

events_consumed = Counter(
    "risk_events_consumed_total", "Input events consumed and valid, by topic and event type.",
    ["topic", "type"], registry=REGISTRY,
)
bad_events = Counter(
    "risk_bad_events_total", "Input messages sent to the dead-letter topic, by reason.",
    ["topic", "reason"], registry=REGISTRY,
)
warnings_published = Counter(
    "risk_warnings_published_total", "Warning state changes published, by rule, severity and transition.",
    ["rule", "severity", "transition"], registry=REGISTRY,
)
processing_errors = Counter(
    "risk_processing_errors_total", "Valid events whose processing raised (a bug); dead-lettered, stream continues.",
    ["stage"], registry=REGISTRY,
)
duplicate_events = Counter(
    "risk_duplicate_events_total", "Events dropped because their event_id was already applied.",
    registry=REGISTRY,
)
late_events = Counter(
    "risk_late_events_total", "Observations that arrived after their window was decided (counted, not applied).",
    ["subject"], registry=REGISTRY,
)
