"""Who may read warnings and who may acknowledge them, on the worker's web server.

Credentials are bearer tokens, from three settings (service/config.py):

  api_token / api_token_file            one shared acknowledging token (also reads)
  api_read_token / api_read_token_file  one shared read-only token
  api_tokens_file                       YAML, one token per person: {person: {token, role: read|ack}}

A request presents its token as `Authorization: Bearer <token>`, or, for the
board's reads only, as the board's session cookie, which `POST /board/login`
sets after checking a token (the browser's EventSource cannot send headers).
The cookie holds no token: `v1.<expiry>.<token id>.<HMAC>`, signed with a key
derived from the token itself, so every replica accepts it, it lapses after
`board_session_hours`, and removing a token from the configuration ends its
sessions. It is HttpOnly and SameSite=Strict, and never authorises a write:
an acknowledgement always needs the Authorization header.

Identity of an acknowledgement: the person of a per-person token; with a
shared token, the user named by the trusted proxy header
(`api_trusted_user_header`, set only when a proxy that sets it, and strips it
from clients, is the only way in); with neither, the shared token's name
`SHARED_IDENTITY`.

With no read credential configured at all, reads are refused: the data is
never open by default.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from .core.rulebook import ConfigError

Role = Literal["read", "ack"]
TOKEN_PATTERN = re.compile(r"^[\x21-\x7e]{16,256}$")  # printable ASCII, no spaces: fits a header
PERSON_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # a safe id: it is recorded on acks
SHARED_IDENTITY = "api-token"  # who acknowledged with the shared token, when nothing names the person
COOKIE = "board_session"
_COOKIE_SHAPE = re.compile(r"^v1\.(\d{1,12})\.([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class Credential:
    role: Role
    person: str | None  # None: a shared token
    source: str  # the setting it came from, for messages

    def allows(self, need: Role) -> bool:
        return self.role == "ack" or need == "read"


def check_token(token: str, where: str) -> str:
    """A token as configured, or ValueError saying what is wrong (never echoing it)."""
    token = token.strip()
    if not token:
        raise ValueError(f"{where} is empty: set a token, or leave the setting unset")
    if not TOKEN_PATTERN.match(token):
        raise ValueError(f"{where} must be 16-256 printable ASCII characters without spaces")
    return token


def read_token_file(path: Path, where: str) -> str:
    try:
        return check_token(path.read_text(encoding="utf-8"), f"{where} ({path})")
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror}") from None


def read_tokens_file(path: Path) -> dict[str, Credential]:
    """token -> Credential from a per-person tokens file; ValueError naming the entry."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not YAML: {str(e)[:200]}") from None
    if not isinstance(data, dict) or not data:
        raise ValueError(f"{path}: must map each person to {{token: ..., role: read|ack}}")
    out: dict[str, Credential] = {}
    for person, entry in data.items():
        if not isinstance(person, str) or not PERSON_PATTERN.match(person):
            raise ValueError(f"{path}: person {str(person)[:64]!r}: 1-64 letters, digits or ._- "
                             "(the name recorded on their acknowledgements)")
        if not isinstance(entry, dict) or set(entry) - {"token", "role"} or "token" not in entry:
            raise ValueError(f"{path}: {person}: must be {{token: ..., role: read|ack}}")
        role = entry.get("role", "read")
        if role not in ("read", "ack"):
            raise ValueError(f"{path}: {person}: role must be read or ack, not {str(role)[:20]!r}")
        token = check_token(str(entry["token"]), f"{path}: {person}: token")
        if token in out:
            raise ValueError(f"{path}: {person}: the same token as {out[token].person}")
        out[token] = Credential(role, person, "api_tokens_file")
    return out


def credentials(settings) -> dict[str, Credential]:
    """Every configured token -> its Credential. ConfigError when two settings share a token."""
    out: dict[str, Credential] = {}

    def add(token: str | None, cred: Credential) -> None:
        if token is None:
            return
        if token in out:
            raise ConfigError(f"setting {cred.source}: the same token as {out[token].source}"
                              + (f" ({out[token].person})" if out[token].person else "")
                              + ": every credential needs its own token")
        out[token] = cred

    try:
        per_person = read_tokens_file(settings.api_tokens_file) if settings.api_tokens_file else {}
    except ValueError as e:
        raise ConfigError(f"setting api_tokens_file: {e}") from None
    for token, cred in per_person.items():
        add(token, cred)
    add(settings.token(), Credential("ack", None, "api_token"))
    add(settings.read_token(), Credential("read", None, "api_read_token"))
    return out


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def token_id(token: str) -> str:
    return hashlib.sha256(b"board-token-id|" + token.encode()).hexdigest()[:16]


def _sign(token: str, expiry: int, tid: str) -> str:
    key = hashlib.sha256(b"board-session-key|" + token.encode()).digest()
    return _b64(hmac.new(key, f"v1.{expiry}.{tid}".encode(), hashlib.sha256).digest())


class Authenticator:
    """Checks a request's credential; built once at start-up from the settings."""

    def __init__(self, settings, now=time.time):
        self._by_token = credentials(settings)
        self._by_id = {token_id(t): (t, c) for t, c in self._by_token.items()}
        self.session_seconds = settings.board_session_hours * 3600.0
        header = settings.api_trusted_user_header
        self.user_header = header.strip() if header else None
        self._now = now

    @property
    def can_read(self) -> bool:
        return bool(self._by_token)

    @property
    def can_ack(self) -> bool:
        return any(c.role == "ack" for c in self._by_token.values())

    def from_header(self, authorization: str | None) -> Credential | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        given = authorization[7:].strip().encode()
        found = None
        for token, cred in self._by_token.items():  # compare with every token: no early exit to time
            if hmac.compare_digest(given, token.encode()):
                found = cred
        return found

    def session_cookie(self, cred_token: str) -> tuple[str, int]:
        """(cookie value, lifetime in seconds) for a token that was just checked."""
        expiry = int(self._now() + self.session_seconds)
        tid = token_id(cred_token)
        return f"v1.{expiry}.{tid}.{_sign(cred_token, expiry, tid)}", int(self.session_seconds)

    def from_cookie(self, value: str | None) -> Credential | None:
        m = _COOKIE_SHAPE.match(value or "")
        if not m:
            return None
        expiry, tid, mac = int(m.group(1)), m.group(2), m.group(3)
        found = self._by_id.get(tid)
        if found is None or expiry < self._now():
            return None
        token, cred = found
        return cred if hmac.compare_digest(mac, _sign(token, expiry, tid)) else None

    def token_of(self, authorization: str | None) -> str | None:
        """The configured token a header presents (for the login), or None."""
        cred = self.from_header(authorization)
        if cred is None:
            return None
        return authorization[7:].strip()

    def check(self, request, need: Role, cookie_ok: bool = False) -> tuple[Credential | None, int, str]:
        """(credential, 0, "") when the request may do `need`, else (None, HTTP status, reason)."""
        if need == "read" and not self.can_read:
            return None, 403, ("reads are disabled: no credential is configured "
                               "(RISK_API_READ_TOKEN, RISK_API_TOKENS_FILE or RISK_API_TOKEN)")
        if need == "ack" and not self.can_ack:
            return None, 403, ("acknowledgements are disabled: no acknowledging credential is configured "
                               "(RISK_API_TOKEN or an ack role in RISK_API_TOKENS_FILE)")
        cred = self.from_header(request.headers.get("Authorization"))
        if cred is None and cookie_ok:
            cred = self.from_cookie(request.cookies.get(COOKIE))
        if cred is None:
            return None, 401, "missing or wrong bearer token"
        if not cred.allows(need):
            return None, 403, "this token may read, not acknowledge"
        return cred, 0, ""

    def identity(self, request, cred: Credential) -> tuple[str | None, str]:
        """(who acknowledges, "") or (None, reason): from the credential, else the trusted proxy header."""
        if cred.person is not None:
            return cred.person, ""
        if self.user_header:
            user = (request.headers.get(self.user_header) or "").strip()
            if not user:
                return None, f"no {self.user_header} header from the proxy: who is acknowledging?"
            if not PERSON_PATTERN.match(user):
                return None, f"{self.user_header} must be 1-64 letters, digits or ._-"
            return user, ""
        return SHARED_IDENTITY, ""
