"""The live warning board in headless Chromium, against the real worker and broker.

A ticket goes overdue -> its card appears (yellow), escalates -> the card turns
orange, the operator acknowledges it in the page -> "acknowledged by", the crew
arrives -> the card disappears and the timeline lists the resolution. All
without reloading the page.

Needs Debian's `chromium` and `chromium-driver` (/usr/bin/chromium,
/usr/bin/chromedriver) and PyPI `selenium`; skipped when they are missing.
Set BOARD_SCREENSHOT=docs/board.png to keep a screenshot.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from datetime import UTC, datetime

import pytest
import yaml

from service.core.fingerprint import fingerprint

from .board_worker import BoardDeployment
from .test_worker_e2e import MIN, outage, ticket

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
TOKEN = "board-test-token-5f2c"  # the shared acknowledging token
READ = "board-read-token-77a1"  # the wall display's read-only token
OFFICER = "officer-7-board-token-9c3e"  # officer-7's own acknowledging token
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")


def chromium_driver(tmp_path, width=1400, height=1000):
    """Headless Debian Chromium through Selenium, with no network of its own."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip("needs Debian chromium and chromium-driver")
    os.environ.setdefault("SE_AVOID_STATS", "true")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--window-size={width},{height}",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        opts.add_argument(flag)
    return webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))


def wait_for(browser, script, timeout=30.0, what=""):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = browser.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or script}")


def card_class(fp):
    return f"const c = document.querySelector('.card[data-fp=\"{fp}\"]'); return c && !c.hidden ? c.className : null;"


@pytest.fixture
def deployment(kafka_bootstrap, tmp_path):
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(f"officer-7: {{token: {OFFICER}, role: ack}}\n")
    d = BoardDeployment(kafka_bootstrap, tmp_path, {"RISK_CLOCK": "wall", "RISK_API_TOKEN": TOKEN,
                                                    "RISK_API_READ_TOKEN": READ, "RISK_API_TOKENS_FILE": str(tokens),
                                                    "RISK_TICK_SECONDS": "0.2"})
    d.start_worker()
    d.wait_ready()
    yield d
    d.close()


@pytest.fixture
def browser(tmp_path):
    b = chromium_driver(tmp_path)
    yield b
    b.quit()


def sign_in(browser, port, token):
    """Open the board: it asks for a token, and reads with the session cookie that buys."""
    browser.get(f"http://127.0.0.1:{port}/board")
    wait_for(browser, "return document.getElementById('login-dialog').open", what="the sign-in dialog")
    assert browser.execute_script("return document.getElementById('conn').classList.contains('on')") is False
    browser.find_element("id", "login-token").send_keys(token)
    browser.find_element("id", "login-submit").click()
    wait_for(browser, "return document.getElementById('conn').classList.contains('on')", what="SSE connected")


def test_board_shows_a_warning_live_from_raise_to_resolve(deployment, browser, tmp_path):
    d = deployment
    sign_in(browser, d.port, READ)  # a wall display: reads only
    assert browser.execute_script("return sessionStorage.getItem('board.token')") is None
    wait_for(browser, "return window.__board.metrics.firstRenderMs !== null", what="first render")

    # yellow at 80 % of the 45-minute urban limit (now), orange at 100 % (8 s from now)
    now = time.time()
    d.send("repair_tickets", "T-board", ticket("b1", "ticket.created", now - 45 * MIN + 8, "T-board",
                                               district_id="north", area_type="urban", category="no_power",
                                               priority="normal"))
    d.send("repair_tickets", "T-south", ticket("b2", "ticket.created", now - 50 * MIN, "T-south",
                                               district_id="south", area_type="urban", category="no_power",
                                               priority="normal"))
    fp = fingerprint("repair.arrival_overdue", {"ticket_id": "T-board"})
    fp_south = fingerprint("repair.arrival_overdue", {"ticket_id": "T-south"})

    cls = wait_for(browser, card_class(fp), what="the card to appear")
    assert "sev-yellow" in cls
    text = browser.execute_script(f"return document.querySelector('.card[data-fp=\"{fp}\"]').innerText")
    assert "repair.arrival_overdue" in text and "T-board" in text and "north" in text and "not acknowledged" in text
    assert "firing for" in text and "threshold" in text
    # on the wall clock the page runs the server's clock on between updates (ages tick every second)
    assert browser.execute_script("return window.__board.clock.mode") == "wall"
    assert browser.execute_script("return window.__board.clock.server") is not None

    wait_for(browser, f"return (function(){{{card_class(fp)}}})()?.includes('sev-orange')", timeout=30,
             what="escalation to orange")
    wait_for(browser, card_class(fp_south), what="the south card")

    # filters: district south hides the north card
    browser.execute_script("const s = document.getElementById('f-district'); s.value = 'south';"
                           "s.dispatchEvent(new Event('change'));")
    assert browser.execute_script(card_class(fp)) is None
    assert browser.execute_script(card_class(fp_south))
    browser.execute_script("const s = document.getElementById('f-district'); s.value = '';"
                           "s.dispatchEvent(new Event('change'));")
    assert browser.execute_script(card_class(fp))

    # acknowledge through the page: the read token may not, so the dialog asks for one that may;
    # who acknowledged is the token's person, not something typed
    browser.find_element("css selector", f'.card[data-fp="{fp}"] .ackbtn').click()
    wait_for(browser, "return document.getElementById('ack-dialog').open", what="the ack dialog")
    assert browser.find_elements("id", "ack-by") == []
    browser.find_element("id", "ack-token").send_keys(OFFICER)
    browser.find_element("id", "ack-note").send_keys("crew called")
    browser.find_element("id", "ack-submit").click()
    info = wait_for(browser, f"const c = document.querySelector('.card[data-fp=\"{fp}\"]');"
                             "return c.classList.contains('acked') ? c.querySelector('.ackinfo').textContent : null",
                    timeout=20, what="acknowledged")
    assert "officer-7" in info
    assert browser.execute_script("return sessionStorage.getItem('board.token')") == OFFICER

    browser.save_screenshot(str(tmp_path / "board.png"))
    if os.environ.get("BOARD_SCREENSHOT"):
        shutil.copy(tmp_path / "board.png", os.environ["BOARD_SCREENSHOT"])

    # Chinese labels and summaries, and back
    browser.find_element("id", "lang").click()
    assert browser.execute_script("return document.querySelector('h1').textContent") == "风险预警看板"
    zh = browser.execute_script(f"return document.querySelector('.card[data-fp=\"{fp}\"] .summary').textContent")
    assert zh and zh == browser.execute_script("return window.__board.cards.get(arguments[0]).w.summary_zh", fp)
    browser.find_element("id", "lang").click()
    assert browser.execute_script("return document.querySelector('h1').textContent") == "Risk warning board"

    # the crew arrives: the card goes, the timeline keeps the resolution
    d.send("repair_tickets", "T-board", ticket("b3", "ticket.arrived", time.time(), "T-board", crew_id="C1"))
    wait_for(browser, f"return !document.querySelector('.card[data-fp=\"{fp}\"]')", timeout=20,
             what="the card to disappear")
    transitions = browser.execute_script(
        "return window.__board.history.filter(e => e.fingerprint === arguments[0]).map(e => e.transition)", fp)
    assert transitions == ["raised", "escalated", "resolved"]
    wait_for(browser, "return [...document.querySelectorAll('#tl-list li.res')].some(li => li.textContent.includes('resolved'))",
             timeout=5, what="the resolution in the timeline list")
    assert browser.execute_script(card_class(fp_south))  # the other one is still firing
    assert browser.execute_script("return document.querySelectorAll('.card').length") == 1
    assert all(t not in d.log() for t in (TOKEN, READ, OFFICER))  # tokens are never logged

    # signing out ends the session: the feed and the list are refused, the sign-in form is back
    browser.find_element("id", "logout").click()
    wait_for(browser, "return document.getElementById('login-dialog').open", what="the sign-in dialog again")
    status = browser.execute_script("return fetch('/board/history').then(r => r.status)")
    assert status == 401


def test_the_board_page_remembers_a_bounded_number_of_gone_cards(deployment, browser):
    """A wall display runs for weeks: resolutions and timeline ids must not pile up in the page."""
    d = deployment
    sign_in(browser, d.port, READ)
    wait_for(browser, "return window.__board.metrics.firstRenderMs !== null", what="first render")
    bounds = browser.execute_script("return window.__board.bounds")
    n = bounds["HISTORY_MAX"] + bounds["HISTORY_MAX"] // 5  # more resolutions than either memory holds
    sizes = browser.execute_script("""
        const b = window.__board, now = new Date().toISOString();
        for (let i = 0; i < arguments[0]; i++) {
          b.applyWarning({fingerprint: 'gone-' + i, warning_id: 'gone-' + i + '-2', status: 'resolved',
                          transition: 'resolved', severity: 'red', rule_id: 'repair.arrival_overdue',
                          changed_at: now, scope: {district_id: 'north'}, summary: 's', summary_zh: 's'});
        }
        return [b.gone.size, b.historyIds.size, b.history.length];""", n)
    gone, ids, history = sizes
    assert gone <= bounds["GONE_MAX"]
    assert history <= bounds["HISTORY_MAX"] * 1.1 and ids <= history
    # and none is kept longer than GONE_MS
    left = browser.execute_script("const b = window.__board; b.pruneGone(Date.now() + b.bounds.GONE_MS + 1);"
                                  "return b.gone.size;")
    assert left == 0


def test_board_escapes_text_and_sends_security_headers(deployment):
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{deployment.port}/board", timeout=5) as r:
        csp = r.headers["Content-Security-Policy"]
        html = r.read().decode()
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "http://" not in html and "https://" not in html  # nothing from a CDN
    with urllib.request.urlopen(f"http://127.0.0.1:{deployment.port}/board/static/board.js", timeout=5) as r:
        js = r.read().decode()
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js and "eval(" not in js


# A replay: a storm in district east, dated months before the wall clock, on the event clock.
REPLAY_T0 = datetime(2026, 3, 10, 8, 0, tzinfo=UTC).timestamp()
REPLAY_DISTRICTS = {"districts": [
    {"district_id": "east", "name": "East Plain", "area_type": "rural", "customers_served": 10000,
     "recipient_group": "ops-east"},
    {"district_id": "west", "name": "West Valley", "area_type": "rural", "customers_served": 50000,
     "recipient_group": "ops-west"}]}


@pytest.fixture
def replay(kafka_bootstrap, tmp_path):
    districts = tmp_path / "districts.yaml"
    districts.write_text(yaml.safe_dump(REPLAY_DISTRICTS))
    d = BoardDeployment(kafka_bootstrap, tmp_path, {"RISK_CLOCK": "event", "RISK_EVENT_CLOCK_IDLE_SECONDS": "1",
                                                    "RISK_API_READ_TOKEN": READ, "RISK_TICK_SECONDS": "0.2",
                                                    "RISK_DISTRICTS_FILE": str(districts)})
    d.start_worker()
    d.wait_ready()
    yield d
    d.close()


def test_a_replayed_stream_is_measured_on_event_time(replay, browser):
    """Ages, the timeline, the storm banner and held-back cards of a stream dated 2026-03, on the event clock.

    Three outages take 12 % of east's customers off supply (storm mode from 08:15, the third); two rural tickets
    created at 09:30 go overdue at 10:42 (east's held back by the storm, west's not); the last event is
    at 11:20, so east's card has been firing for 38 minutes of event time, not for months of wall time.
    """
    d = replay
    sign_in(browser, d.port, READ)
    wait_for(browser, "return window.__board.metrics.firstRenderMs !== null", what="first render")
    m = 60.0
    for i, at in enumerate((5, 10, 15)):
        d.send("outage_events", f"O-{i}", outage(f"o{i}", "outage.started", REPLAY_T0 + at * m, f"O-{i}",
                                                 kind="unplanned", district_id="east", feeder_id=f"F-{i}",
                                                 area_type="rural", customers_affected=400))
    for tid, district in (("T-east", "east"), ("T-west", "west")):
        d.send("repair_tickets", tid, ticket(f"c-{tid}", "ticket.created", REPLAY_T0 + 90 * m, tid,
                                             district_id=district, area_type="rural", category="no_power",
                                             priority="normal"))
    storm_fp = fingerprint("reliability.storm_mode", {"district_id": "east"})
    d.read("risk_warnings", lambda rs: any(r.key == storm_fp.encode() for r in rs), timeout=90)
    d.send("repair_tickets", "T-last", ticket("c-last", "ticket.created", REPLAY_T0 + 200 * m, "T-last",
                                              district_id="west", area_type="rural", category="no_power",
                                              priority="normal"))
    east = fingerprint("repair.arrival_overdue", {"ticket_id": "T-east"})
    west = fingerprint("repair.arrival_overdue", {"ticket_id": "T-west"})
    wait_for(browser, card_class(east), timeout=90, what="the east ticket's card")
    wait_for(browser, card_class(west), timeout=30, what="the west ticket's card")
    wait_for(browser, "return window.__board.clock.mode === 'event' && "
                      f"window.__board.serviceNow() >= {(REPLAY_T0 + 200 * m) * 1000}",
             timeout=30, what="the page to hear the event clock at the last event")
    browser.execute_script("window.__board.tickAges()")
    # the worker's clock is in the list and the history body too (the history cached a few seconds)
    last = REPLAY_T0 + 200 * m
    for url in ("/api/warnings", "/board/history"):
        body = wait_for(browser, f"return fetch('{url}').then(r => r.json()).then(j => j.clock === {last} ? j : null)",
                        timeout=15, what=f"the event clock in {url}")
        assert body["clock"] == last
    assert body["since"] == last - 24 * 3600

    # "firing for": minutes of event time (10:42 -> 11:20), not the months since March on the wall clock
    age = browser.execute_script(f"return document.querySelector('.card[data-fp=\"{east}\"] .dur').textContent")
    assert re.fullmatch(r"(\d+h )?\d+m \d+s", age), age
    assert age == "38m 0s", age
    storm_age = browser.execute_script(f"return document.querySelector('.card[data-fp=\"{storm_fp}\"] .dur')"
                                       ".textContent")
    assert storm_age == "3h 5m 0s", storm_age  # declared at the third outage, 08:15

    # the timeline: the last 24 hours of the event clock hold every change of the replay
    # (the strip is redrawn once a second: wait for the draw after the last change arrived)
    drawn = wait_for(browser, "const n = +document.getElementById('tl').dataset.drawn;"
                              "return n === window.__board.history.length ? n : null", timeout=10,
                     what="the timeline drawn with every change received")
    listed = browser.execute_script("return document.querySelectorAll('#tl-list li').length")
    assert drawn >= 12 and listed == drawn, (drawn, listed)
    assert browser.execute_script("return Math.min(...window.__board.history.map(e => e.t))") < (
        REPLAY_T0 + 60 * m) * 1000  # the storm's first changes, hours before the clock, are on it

    # the storm banner names the district, since when, and how many of its warnings are held back
    banner = browser.execute_script("const b = document.querySelector('#storm div[data-district=\"east\"]');"
                                    "return b && !document.getElementById('storm').hidden ? b.textContent : null")
    assert banner and "storm mode in district east" in banner and "(for 3h 5m 0s)" in banner, banner
    assert "warnings held back: 1" in banner

    # east's overdue ticket is held back (notifications) and says so; west's is not
    def badge(fp):
        return browser.execute_script(f"const c = document.querySelector('.card[data-fp=\"{fp}\"]');"
                                      "const b = c.querySelector('.flag.supp');"
                                      "return [c.className, b.hidden ? null : b.textContent]")

    cls, text = badge(east)
    assert "suppressed" in cls and text == "held back: storm mode"
    cls, text = badge(west)
    assert "suppressed" not in cls and text is None
    browser.find_element("id", "lang").click()
    assert badge(east)[1] == "暂缓通知：风暴模式"
