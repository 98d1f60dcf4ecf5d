"""Account and staff ids as people see them: pseudonymised on the board, in API reads and in logs.

A pseudonym is `#` and 10 base32 characters of HMAC-SHA256(key, kind|id): the
same id always gets the same pseudonym (under one key), so a duty officer can
still follow "#k3j9x2qfab" from card to card, and the key holder can find
the account (`python -m service.privacy <id>...` prints the pseudonyms).
The key comes from `pseudonym_key`; without one it is derived from the app
id, which is not secret, and ids from a small space (account numbers) can
then be recovered by trying them all: set a key.

Only human-facing surfaces are pseudonymised. The warning topic keeps the
real ids: it is the contract, and the services downstream need them.
Pseudonymised: scope `account_id` and `staff_id`, and those ids wherever
they occur in `summary`, `summary_zh` and `evidence` (event ids that embed
them). Districts, feeders, tickets, outages and crews are operational and
stay as they are. The fingerprint is an unkeyed hash of rule and scope, kept
because acknowledgements name it: it reveals nothing by itself, but someone
holding a read token could confirm a guessed id against it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import sys
from collections.abc import Iterable

PERSONAL_KEYS = ("account_id", "staff_id")
_ID_CHARS = "A-Za-z0-9"  # an id next to a letter or digit is part of another one; "-" or ":" separate


class Pseudonyms:
    def __init__(self, key: bytes, enabled: bool = True):
        self.key = key
        self.enabled = enabled
        self._cache: dict[tuple[str, str], str] = {}

    @classmethod
    def from_settings(cls, settings) -> Pseudonyms:
        return cls(settings.pseudonym_secret(), enabled=not settings.show_personal_ids)

    def of(self, kind: str, value: str) -> str:
        """The pseudonym of one id of a kind ("account_id", "staff_id")."""
        if not self.enabled:
            return value
        found = self._cache.get((kind, value))
        if found is None:
            mac = hmac.new(self.key, f"{kind}|{value}".encode(), hashlib.sha256).digest()
            found = "#" + base64.b32encode(mac[:10]).decode().lower()[:10]
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[(kind, value)] = found
        return found

    def _replacer(self, scope: dict) -> tuple[re.Pattern, dict[str, str]] | None:
        ids = {str(scope[k]): self.of(k, str(scope[k])) for k in PERSONAL_KEYS if scope.get(k)}
        if not ids:
            return None
        alternatives = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
        # whole ids only: "A1" inside "A10" or "XA1" is another id, in "bill-A1-2026" it is A1
        return re.compile(f"(?<![{_ID_CHARS}])(?:{alternatives})(?![{_ID_CHARS}])"), ids

    def warning(self, w: dict) -> dict:
        """A copy of a warning (the topic's JSON) with its personal ids pseudonymised."""
        if not self.enabled:
            return w
        scope = w.get("scope") or {}
        found = self._replacer(scope)
        if found is None:
            return w
        pattern, ids = found
        out = dict(w)
        out["scope"] = {k: (ids[str(v)] if k in PERSONAL_KEYS and v else v) for k, v in scope.items()}
        for field in ("summary", "summary_zh"):
            if isinstance(w.get(field), str):
                out[field] = pattern.sub(lambda m: ids[m.group(0)], w[field])
        if isinstance(w.get("evidence"), list):
            out["evidence"] = [pattern.sub(lambda m: ids[m.group(0)], e) if isinstance(e, str) else e
                               for e in w["evidence"]]
        return out

    def scope(self, scope: dict) -> dict:
        if not self.enabled:
            return scope
        return {k: (self.of(k, str(v)) if k in PERSONAL_KEYS and v else v) for k, v in scope.items()}

    def state_key(self, key: str) -> str:
        """A state key for a log line: "account:A1" -> "account:#...", others as they are."""
        kind, _, value = key.partition(":")
        if self.enabled and f"{kind}_id" in PERSONAL_KEYS and value:
            return f"{kind}:{self.of(f'{kind}_id', value)}"
        return key


def main(argv: Iterable[str]) -> int:
    """Print the pseudonyms of account and staff ids under the configured key."""
    from .config import load_settings

    p = Pseudonyms(load_settings().pseudonym_secret())
    for value in argv:
        print(f"{value}\taccount {p.of('account_id', value)}\tstaff {p.of('staff_id', value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
