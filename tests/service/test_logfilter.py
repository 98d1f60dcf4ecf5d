import logging

from service.logfilter import RepeatFilter


def record(msg: str, level: int = logging.ERROR, name: str = "aiokafka") -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, ("node 1",), None)


def test_a_repeated_message_passes_once_per_interval_and_says_how_many_were_held():
    now = [0.0]
    f = RepeatFilter(every=30, clock=lambda: now[0])
    assert f.filter(record("Unable connect to node %s"))
    for t in range(1, 30):
        now[0] = t
        assert not f.filter(record("Unable connect to node %s"))
    now[0] = 30.0
    r = record("Unable connect to node %s")
    assert f.filter(r)
    assert r.getMessage() == "Unable connect to node node 1 [29 more like this in the last 30 s, not logged]"


def test_other_messages_and_info_lines_are_not_held():
    f = RepeatFilter(every=30, clock=lambda: 0.0)
    assert f.filter(record("Unable connect to node %s"))
    assert f.filter(record("Unable to update metadata from %s"))
    assert f.filter(record("Unable connect to node %s", name="aiokafka.conn"))
    assert f.filter(record("Joined group %s", level=logging.INFO))
    assert f.filter(record("Joined group %s", level=logging.INFO))


def capture(logger_name: str):
    import io

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    return stream, lambda: logger.removeHandler(handler)


def test_a_producer_value_with_newline_and_escape_stays_on_one_escaped_line():
    from service import board  # their loggers escape
    from service.worker import finish, health, ingest, inputs, notify, process, publish

    forged = "T1\nINFO warning resolved red all clear\x1b[2J\u202e"
    for module in (publish, ingest, process, notify, inputs, finish, health, board):
        stream, done = capture(module.log.name)
        try:
            module.log.info("warning %s %s %s %s", "raised", "red", "repair.arrival_overdue",
                            {"ticket_id": forged, "district_id": "north"})
            module.log.warning("event %s reached %s", forged, "ticket:" + forged)
        finally:
            done()
        lines = stream.getvalue().splitlines()
        assert len(lines) == 2, lines
        assert "\x1b" not in stream.getvalue() and "\u202e" not in stream.getvalue()
        assert lines[1] == ("WARNING event T1\\nINFO warning resolved red all clear\\x1b[2J\\u202e reached "
                            "ticket:T1\\nINFO warning resolved red all clear\\x1b[2J\\u202e")


def test_an_exception_message_from_a_producer_is_escaped_too():
    from service.worker import ingest

    stream, done = capture(ingest.log.name)
    try:
        try:
            raise ValueError("bad id 'A1\nERROR forged line'")
        except ValueError:
            ingest.log.exception("ingest failed on %s", "repair-tickets")
    finally:
        done()
    text = stream.getvalue()
    assert "\nERROR forged line" not in text
    assert "ValueError: bad id 'A1\\nERROR forged line'" in text


def test_escape_keeps_ordinary_text_and_doubles_backslashes():
    from service.logfilter import escape

    assert escape("north 区域 T-1") == "north 区域 T-1"
    assert escape("a\\nb") == "a\\\\nb"  # a literal backslash-n cannot pass for an escaped newline
    assert escape("a\r\nb\x00\x85\u2028") == "a\\r\\nb\\x00\\x85\\u2028"

