"""A Ctrl-C that a callback swallowed still stops the run at the next step; one that
arrives inside a Ray call is recorded there and raised after it returns."""

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


@pytest.fixture
def fresh():
    interrupts._received = False
    yield
    interrupts._received = False


def test_a_signal_within_deferred_is_raised_by_the_next_check(fresh):
    with interrupts.deferred():
        interrupts.on_signal(2, None)  # recorded, not raised inside the deferred call
        assert interrupts._received
    with pytest.raises(KeyboardInterrupt):
        interrupts.check()


def test_a_second_signal_within_deferred_raises_at_once(fresh):
    with interrupts.deferred():
        interrupts.on_signal(2, None)
        with pytest.raises(KeyboardInterrupt):
            interrupts.on_signal(2, None)


def test_outside_deferred_a_signal_raises_at_once(fresh):
    with interrupts.deferred():
        pass
    with pytest.raises(KeyboardInterrupt):
        interrupts.on_signal(2, None)


class _FakeRay:
    """Just enough of Ray for RayGroupRunner._admit: actors answer on the third wait."""

    def __init__(self, on_wait):
        self.waits = 0
        self.on_wait = on_wait

    def wait(self, refs, num_returns, timeout):
        self.waits += 1
        self.on_wait()
        return (list(refs), []) if self.waits >= 3 else ([], list(refs))

    def get(self, ref):
        return ref.identity

    def kill(self, actor, no_restart):
        raise AssertionError("no actor should be refused here")


class _FakeRef:
    def __init__(self, identity):
        self.identity = identity


class _FakeActor:
    def __init__(self, pid):
        from types import SimpleNamespace

        ident = {"node": "n", "pid": pid, "model_sha256": "m", "fingerprint": b"f"}
        self.identity = SimpleNamespace(remote=lambda cfg: _FakeRef(ident))


def _runner(monkeypatch, fake):
    from types import SimpleNamespace

    from nacz import ray_runner

    monkeypatch.setattr(ray_runner, "_ray", lambda: fake)
    runner = ray_runner.RayGroupRunner(None, 2, None, SimpleNamespace(sha256="m"))
    monkeypatch.setattr(runner, "_connect", lambda: fake)
    return runner


def test_actor_admission_polls_and_a_signal_during_a_wait_stops_it_after(monkeypatch, fresh):
    fake = _FakeRay(lambda: None)
    actors = [_FakeActor(1), _FakeActor(2)]
    assert _runner(monkeypatch, fake)._admit(actors, "cfg", None) == actors
    assert fake.waits == 3

    # The signal arrives inside Ray's wait: it returns normally, the loop raises after.
    fake = _FakeRay(lambda: interrupts.on_signal(2, None))
    with pytest.raises(KeyboardInterrupt):
        _runner(monkeypatch, fake)._admit([_FakeActor(1)], "cfg", None)
    assert fake.waits == 1
