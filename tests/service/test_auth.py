"""Credentials of the HTTP API and the board (service/auth.py, settings in service/config.py)."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from service.auth import COOKIE, SHARED_IDENTITY, Authenticator
from service.config import load_settings
from service.core.rulebook import ConfigError

ACK = "ack-token-0123456789abcdef"
READ = "read-token-0123456789abcdef"
ALICE = "alice-token-0123456789abcdef"
BOB = "bob-token-0123456789abcdef-r"


class Req:
    def __init__(self, headers=None, cookies=None):
        self.headers = CIMultiDict(headers or {})
        self.cookies = cookies or {}


def bearer(token, **more):
    return Req({"Authorization": f"Bearer {token}", **more})


@pytest.fixture
def tokens_file(tmp_path):
    f = tmp_path / "tokens.yaml"
    f.write_text(f"alice: {{token: {ALICE}, role: ack}}\nbob: {{token: {BOB}, role: read}}\n")
    return f


@pytest.mark.parametrize("name", ["RISK_API_TOKEN", "RISK_API_READ_TOKEN"])
@pytest.mark.parametrize("value", ["", "   ", "\n"])
def test_a_token_set_but_empty_stops_start_up_naming_it(name, value):
    with pytest.raises(ConfigError, match=rf"setting {name[5:].lower()} \(from environment variable {name}\).*empty"):
        load_settings({name: value})


def test_a_short_token_or_an_empty_token_file_stops_start_up(tmp_path):
    with pytest.raises(ConfigError, match="api_token.*16-256"):
        load_settings({"RISK_API_TOKEN": "secret"})
    f = tmp_path / "token"
    f.write_text("\n")
    with pytest.raises(ConfigError, match=r"setting api_read_token_file .*empty"):
        load_settings({"RISK_API_READ_TOKEN_FILE": str(f)})


def test_a_token_and_its_file_both_set_is_refused(tmp_path):
    f = tmp_path / "token"
    f.write_text(ACK + "\n")
    with pytest.raises(ConfigError, match=r"setting api_token_file \(from environment variable RISK_API_TOKEN_FILE\)"
                                          r".*api_token is set too"):
        load_settings({"RISK_API_TOKEN": ACK, "RISK_API_TOKEN_FILE": str(f)})
    assert load_settings({"RISK_API_TOKEN_FILE": str(f)}).token() == ACK  # the newline is not part of it


def test_a_bad_tokens_file_names_the_person_and_never_the_token(tmp_path):
    f = tmp_path / "tokens.yaml"
    f.write_text(f"alice: {{token: {ALICE}, role: admin}}\n")
    with pytest.raises(ConfigError, match=r"setting api_tokens_file .*alice: role must be read or ack"):
        load_settings({"RISK_API_TOKENS_FILE": str(f)})
    f.write_text(f"alice: {{token: {ALICE}, role: ack}}\nbob: {{token: {ALICE}}}\n")
    with pytest.raises(ConfigError, match="bob: the same token as alice") as e:
        load_settings({"RISK_API_TOKENS_FILE": str(f)})
    assert ALICE not in str(e.value)
    f.write_text(f"'bob\\nadmin': {{token: {BOB}}}\n")
    with pytest.raises(ConfigError, match="person"):
        load_settings({"RISK_API_TOKENS_FILE": str(f)})


def test_one_token_for_two_credentials_is_refused(tokens_file):
    settings = load_settings({"RISK_API_TOKENS_FILE": str(tokens_file), "RISK_API_READ_TOKEN": ALICE})
    with pytest.raises(ConfigError, match="api_read_token: the same token as api_tokens_file"):
        Authenticator(settings)


def test_with_no_credential_configured_reads_are_refused():
    auth = Authenticator(load_settings({}))
    cred, status, reason = auth.check(bearer("anything-at-all-0123456"), "read")
    assert cred is None and status == 403 and "no credential is configured" in reason
    assert auth.check(Req(), "ack")[1] == 403


def test_read_token_reads_only_ack_token_reads_and_acknowledges(tokens_file):
    auth = Authenticator(load_settings({"RISK_API_TOKEN": ACK, "RISK_API_READ_TOKEN": READ,
                                        "RISK_API_TOKENS_FILE": str(tokens_file)}))
    for token, can_ack in ((READ, False), (BOB, False), (ACK, True), (ALICE, True)):
        assert auth.check(bearer(token), "read")[0] is not None
        cred, status, _ = auth.check(bearer(token), "ack")
        assert (cred is not None) == can_ack and (can_ack or status == 403)
    for bad in (Req(), bearer("wrong-token-0123456789"), Req({"Authorization": READ}), bearer(READ + "x")):
        assert auth.check(bad, "read")[1] == 401


def test_who_acknowledges_comes_from_the_credential_or_a_trusted_proxy(tokens_file):
    env = {"RISK_API_TOKEN": ACK, "RISK_API_TOKENS_FILE": str(tokens_file)}
    auth = Authenticator(load_settings(env))
    alice = auth.from_header(f"Bearer {ALICE}")
    shared = auth.from_header(f"Bearer {ACK}")
    # without a trusted header, a header naming someone is just ignored
    assert auth.identity(bearer(ALICE, **{"X-Forwarded-User": "mallory"}), alice) == ("alice", "")
    assert auth.identity(bearer(ACK, **{"X-Forwarded-User": "mallory"}), shared) == (SHARED_IDENTITY, "")

    proxied = Authenticator(load_settings({**env, "RISK_API_TRUSTED_USER_HEADER": "X-Forwarded-User"}))
    assert proxied.identity(bearer(ACK, **{"X-Forwarded-User": "carol"}), shared) == ("carol", "")
    assert proxied.identity(bearer(ALICE, **{"X-Forwarded-User": "carol"}), alice) == ("alice", "")
    who, reason = proxied.identity(bearer(ACK), shared)
    assert who is None and "X-Forwarded-User" in reason
    assert proxied.identity(bearer(ACK, **{"X-Forwarded-User": "carol\nadmin"}), shared)[0] is None


def test_the_board_session_cookie_reads_lapses_and_cannot_be_forged(tokens_file):
    now = [1_000_000.0]
    settings = load_settings({"RISK_API_TOKENS_FILE": str(tokens_file), "RISK_BOARD_SESSION_HOURS": "1"})
    auth = Authenticator(settings, now=lambda: now[0])
    value, lifetime = auth.session_cookie(ALICE)
    assert lifetime == 3600 and ALICE not in value
    cred, _, _ = auth.check(Req(cookies={COOKIE: value}), "read", cookie_ok=True)
    assert cred is not None and cred.person == "alice"
    # never for a write, and not where the caller did not allow it
    assert auth.check(Req(cookies={COOKIE: value}), "ack")[1] == 401
    assert auth.check(Req(cookies={COOKIE: value}), "read")[1] == 401
    v, expiry, tid, mac = value.split(".")
    forged = ".".join((v, str(int(expiry) + 10_000), tid, mac))
    assert auth.check(Req(cookies={COOKIE: forged}), "read", cookie_ok=True)[0] is None
    now[0] += 3601
    assert auth.check(Req(cookies={COOKIE: value}), "read", cookie_ok=True)[0] is None
    # a token taken out of the configuration ends its sessions
    now[0] -= 3601
    tokens_file.write_text(f"bob: {{token: {BOB}, role: read}}\n")
    again = Authenticator(load_settings({"RISK_API_TOKENS_FILE": str(tokens_file)}), now=lambda: now[0])
    assert again.check(Req(cookies={COOKIE: value}), "read", cookie_ok=True)[0] is None


def test_web_host_is_loopback_unless_told():
    assert load_settings({}).web_host == "127.0.0.1"
    assert load_settings({"RISK_WEB_HOST": "0.0.0.0"}).web_host == "0.0.0.0"


def test_faust_table_router_and_statistics_pages_are_off():
    from service.app import create_app

    app = create_app(load_settings({"RISK_API_TOKEN": ACK}))
    served = [blueprint for _prefix, blueprint in app.web.blueprints._enabled]
    assert served == ["faust.web.apps.production_index:blueprint"]  # "/" answers {"status": "OK"}, nothing else
