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
