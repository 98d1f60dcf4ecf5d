"""Warning identity: a fingerprint of the rule and its identifying scope.

Like Prometheus' alert fingerprints, identity is the sorted identifying labels
only; values, texts and context keys (such as the district of a ticket) are
not part of it, so a warning keeps its fingerprint from raise to resolve and
across restarts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping


def fingerprint(rule_id: str, identity: Mapping[str, str]) -> str:
    text = rule_id + "".join(f"|{k}={identity[k]}" for k in sorted(identity))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def warning_id(fingerprint_: str, seq: int) -> str:
    """The id of the seq-th state change of a warning.

    Derived, not random: a state change re-published after a crash carries
    the same id, so a consumer can tell a redelivery from a new change.
    """
    return f"{fingerprint_}-{seq}"
