"""The consumer hands each fetched message to its topic's queue as Faust does, without four tasks a message."""

import asyncio
import hashlib
import inspect

import pytest
from faust.transport import consumer as faust_consumer

from service.app import create_app
from service.config import load_settings


@pytest.fixture
async def consumer(tmp_path):  # made in the test's event loop: the consumer's waits run on its loop
    settings = load_settings({"RISK_DATA_DIR": str(tmp_path), "KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    return create_app(settings, loop=asyncio.get_running_loop()).consumer


async def test_a_delivery_that_need_not_wait_is_done_without_a_task(consumer):
    delivered = []

    async def callback(message):
        delivered.append(message)

    tasks = len(asyncio.all_tasks())
    made = []
    loop = asyncio.get_running_loop()
    factory = loop.get_task_factory()
    loop.set_task_factory(lambda lp, coro, **kw: made.append(coro) or asyncio.Task(coro, loop=lp, **kw))
    try:
        await consumer._deliver(callback, "m1")
    finally:
        loop.set_task_factory(factory)
    assert delivered == ["m1"]
    assert made == [] and len(asyncio.all_tasks()) == tasks


async def test_a_delivery_that_waits_is_finished_once_its_wait_is_over(consumer):
    room = asyncio.get_running_loop().create_future()
    steps = []

    async def callback(message):
        steps.append("queued?")
        steps.append(await room)  # a full stream buffer: wait for room
        return message

    delivery = asyncio.ensure_future(consumer._deliver(callback, "m2"))
    await asyncio.sleep(0.01)
    assert steps == ["queued?"] and not delivery.done()
    room.set_result("room")
    await asyncio.wait_for(delivery, 1)
    assert steps == ["queued?", "room"]


async def test_a_waiting_delivery_is_abandoned_when_the_flow_is_suspended(consumer):
    cleaned = []

    async def callback(message):
        try:
            await asyncio.get_running_loop().create_future()  # never any room
        except asyncio.CancelledError:
            cleaned.append(message)  # Faust's queue removes its waiter here
            raise

    consumer.suspend_flow.clear()
    delivery = asyncio.ensure_future(consumer._deliver(callback, "m3"))
    await asyncio.sleep(0.01)
    consumer.suspend_flow.set()  # a rebalance: the message will be fetched again after the seek
    await asyncio.wait_for(delivery, 1)
    assert cleaned == ["m3"]


async def test_a_delivery_that_fails_raises_in_the_drain_loop(consumer):
    async def callback(message):
        raise ValueError("bad channel")

    with pytest.raises(ValueError, match="bad channel"):
        await consumer._deliver(callback, "m4")


def test_our_drain_loop_is_a_copy_of_the_faust_version_we_pin():
    # service/faust_patches/speed.py copies faust-streaming 0.15.3's Consumer._drain_messages and changes one
    # line. A new Faust may change that method: then compare the two, update the copy, and this hash.
    source = inspect.getsource(faust_consumer.Consumer._drain_messages)
    assert hashlib.sha256(source.encode()).hexdigest()[:16] == DRAIN_MESSAGES_0_15_3


DRAIN_MESSAGES_0_15_3 = "44a2500309e83c63"
