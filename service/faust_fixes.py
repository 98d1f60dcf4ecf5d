"""The service's patches to faust-streaming and aiokafka, as the rest of the service imports them.

The patches live in `service/faust_patches/`: `correctness.py` (gaps that
lose input around a rebalance or a recovery, and table writes from a batch),
`speed.py` (detours around Faust's per-record machinery, results unchanged)
and `versions.py` (the start-up check that the installed versions are the
pinned ones). Every other use of a private Faust or aiokafka attribute goes
through `committed_offset` and `force_metadata_update` here. `create_app`
installs the transport and the flow control.
"""

from __future__ import annotations

from faust.transport.drivers import aiokafka as faust_aiokafka

from .faust_patches.correctness import (
    FlowControl,
    RewindingConsumer,
    VisibleTopic,
    committed_offset,
    force_metadata_update,
    set_current_event,
)
from .faust_patches.speed import DirectDelivery, FetchingConsumerThread, encode, send_direct, send_to, write_direct
from .faust_patches.versions import check_pinned_versions

__all__ = [
    "Consumer", "DirectDelivery", "FetchingConsumerThread", "FlowControl", "RewindingConsumer", "Transport",
    "VisibleTopic", "check_pinned_versions", "committed_offset", "encode", "force_metadata_update",
    "send_direct", "send_to", "set_current_event", "write_direct",
]


class Consumer(RewindingConsumer, DirectDelivery):
    """Faust's aiokafka consumer: rewinds never-committed partitions (correctness), delivers
    without a task per message and fetches as the transport says (speed)."""


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer

    def __init__(self, *args, fetch_min_bytes: int = 1, fetch_max_wait_ms: int = 1500, **kwargs):  # Faust's own
        super().__init__(*args, **kwargs)
        self.fetch_min_bytes, self.fetch_max_wait_ms = fetch_min_bytes, fetch_max_wait_ms
