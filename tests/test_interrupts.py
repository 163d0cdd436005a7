"""A Ctrl-C that a callback swallowed still stops the run at the next step."""

from __future__ import annotations

import pytest

from _fake_backend import FakeBackend, synthetic_streams

from nacz import interrupts
from nacz.codec import encode_streams
from nacz.config import CodecConfig


@pytest.fixture
def swallowed_interrupt():
    try:
        interrupts.on_signal(2, None)  # as the handler runs inside a ctypes callback...
    except KeyboardInterrupt:
        pass  # ...which prints "Exception ignored" and drops it
    yield
    interrupts._received = False


def test_check_is_quiet_without_a_signal():
    interrupts.check()


def test_a_swallowed_interrupt_is_raised_again(swallowed_interrupt):
    with pytest.raises(KeyboardInterrupt):
        interrupts.check()
    with pytest.raises(KeyboardInterrupt):
        interrupts.check()  # and at every later check


def test_the_lockstep_loop_stops_at_the_next_step(swallowed_interrupt):
    fake = FakeBackend()
    with pytest.raises(KeyboardInterrupt):
        encode_streams(fake, synthetic_streams(fake.n_vocab, (50,)), CodecConfig())


def test_wait_retries_until_the_call_returns_and_stops_on_an_interrupt(swallowed_interrupt):
    calls = []

    def slow():
        calls.append(1)
        if len(calls) < 3:
            raise TimeoutError
        return "done"

    interrupts._received = False
    assert interrupts.wait(slow, TimeoutError) == "done" and len(calls) == 3
    interrupts._received = True
    with pytest.raises(KeyboardInterrupt):
        interrupts.wait(slow, TimeoutError)
