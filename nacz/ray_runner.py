"""Running lockstep groups on a Ray cluster (``--ray``; ``pip install 'nacz[ray]'``).

Ray places the work; nacz only says what each actor needs (one CPU, or one GPU on GPU
nodes) and keeps the order. Invariants:

- Same bytes as ``--workers 1``: a group's bytes depend only on its job (tokens or
  payloads, the config) and the numerics of whoever runs it, and every group is coded
  from a fresh llama.cpp context (nacz.workers). Results are yielded in job order.
- One numerics for one file: every actor reports its node, the model's SHA-256 and its
  numerics fingerprint for the run's config before it gets any job. The first accepted
  actor's fingerprint is the reference (on decompression: the header's); an actor whose
  model or fingerprint differs is refused, with its node named, and none of its output
  is ever used.
- Bounded: at most ``IN_FLIGHT_PER_ACTOR`` jobs per actor are pending, and results that
  finish early wait only behind the jobs before them, so the driver's memory does not
  grow with the input.
- Faults: a job whose actor dies is coded again on a replacement actor (checked like
  the first ones); the result is the same bytes. On any exit (an error, Ctrl-C) the
  actors are killed, and a Ray instance that nacz started is shut down.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Literal

from .errors import ModelMismatchError, NumericsMismatchError, RayError, UsageError
from .jobs import WarnFn, run_in_order

#: Ray major version the extra pins and the tests ran with.
RAY_REQUIREMENT = "ray>=2.50,<3"
IN_FLIGHT_PER_ACTOR = 2
#: Replacements for dead actors, per actor asked for, before the run gives up.
MAX_REPLACEMENTS_PER_ACTOR = 3
#: Seconds an actor may take to start (place, load the model, run the numerics probe).
START_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Refusal:
    """An actor that was not used: why (``kind``), where (``node``, when it said), and the
    line the user reads."""

    kind: Literal["timeout", "start", "model", "numerics"]
    node: str | None
    text: str

    def __str__(self) -> str:
        return self.text


def _warn_by_default(line: str) -> None:
    import warnings

    warnings.warn(f"nacz: ray: {line}", RuntimeWarning, stacklevel=3)


def _ray():
    try:
        import ray
    except ImportError:
        raise UsageError(
            "--ray needs Ray: pip install 'nacz[ray]' (or pip install "
            f"'{RAY_REQUIREMENT}')"
        ) from None
    return ray


def init_ray(**kwargs) -> None:
    """``ray.init`` from the directory that holds the imported nacz package.

    Ray puts the driver's current directory on every worker's ``sys.path``, so workers
    started from a directory that holds another ``nacz/`` (a checkout of another version)
    would import that one instead of what the driver imported. From the package's own
    parent directory they find what the driver imported.
    """
    import nacz

    from . import interrupts

    ray = _ray()
    here = os.getcwd()
    os.chdir(os.path.dirname(os.path.dirname(os.path.abspath(nacz.__file__))))
    try:
        # A Ctrl-C waits until Ray has started (seconds), so that shutdown stops it all.
        with _stdout_to_stderr(), interrupts.deferred():
            ray.init(**kwargs)
    finally:
        os.chdir(here)
    interrupts.check()


def _stdout_to_stderr():
    from .backend import _stdout_to_stderr as redirect  # a context manager, no llama_cpp

    return redirect()


class _GroupWorker:
    """The actor's body: one model, loaded once, coding whole groups."""

    def __init__(self, model_path: str, threads: int | None, gpu: bool):
        from .backend import LlamaBackend
        from .model_file import resolve_model

        self._backend = LlamaBackend(resolve_model(model_path), threads,
                                     gpu=0 if gpu else None)

    def identity(self, cfg) -> dict:
        import socket

        from .codec import cached_numerics_fingerprint

        ray = _ray()
        return {
            "node": f"{socket.gethostname()} ({ray.util.get_node_ip_address()}, node id "
                    f"{ray.get_runtime_context().get_node_id()[:12]})",
            "pid": os.getpid(),
            "model_sha256": self._backend.model_file.sha256,
            "fingerprint": cached_numerics_fingerprint(self._backend, cfg),
        }

    def run(self, job):
        return job.run(self._backend)


class RayGroupRunner:
    """Actors on a Ray cluster that code lockstep groups for one Codec."""

    def __init__(self, address: str | None, workers: int, threads: int | None,
                 model_file, gpus: bool = False, warn: WarnFn | None = None):
        _ray()  # no Ray installed: refuse now, before any input is read
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.workers = max(1, int(workers))
        self.threads = threads
        self.model_file = model_file
        self.gpus = gpus
        self._started_ray = False
        self._actors: list = []
        self._identities: dict[int, dict] = {}  # id(actor handle) -> its identity
        self._reference: dict = {}  # cfg -> accepted fingerprint
        self._cfg = None
        self.refused: list[Refusal] = []  # one per refused actor, for the user
        self._warn = warn or _warn_by_default
        self.replaced = 0

    # -- cluster and actors ------------------------------------------------------------

    def _connect(self):
        ray = _ray()
        if ray.is_initialized():
            return ray
        kwargs = dict(ignore_reinit_error=True, log_to_driver=False,
                      include_dashboard=False, logging_level="ERROR")
        try:
            # "local" starts a new instance even where RAY_ADDRESS names a cluster.
            init_ray(address=self.address or "local", **kwargs)
        except KeyboardInterrupt:
            # Interrupted while Ray starts: close() still shuts down what it started.
            self._started_ray = True
            raise
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ...
            where = "a local Ray instance" if self.address in (None, "local") else \
                f"the Ray cluster at {self.address}"
            raise RayError(f"could not start or join {where}: {exc}") from None
        self._started_ray = True
        return ray

    def _new_actor(self):
        ray = self._connect()
        options = {"num_cpus": 1, "max_restarts": 0}
        if self.gpus:
            options["num_gpus"] = 1
        cls = ray.remote(_GroupWorker)
        return cls.options(**options).remote(str(self.model_file.path), self.threads,
                                             self.gpus)

    def _admit(self, actors: list, cfg, expected: bytes | None) -> list:
        """The actors that started within the timeout and match the model and the
        reference numerics; the rest are killed (refused ones are recorded)."""
        import time

        from . import interrupts

        ray = self._connect()
        refs = {a.identity.remote(cfg): a for a in actors}
        ready, not_ready = [], list(refs)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not_ready and time.monotonic() < deadline:
            interrupts.check()
            with interrupts.deferred():
                done, not_ready = ray.wait(not_ready, num_returns=len(not_ready),
                                           timeout=1.0)
            ready += done
        interrupts.check()
        for r in not_ready:
            self.refused.append(Refusal(
                "timeout", None, f"an actor did not start within {START_TIMEOUT_S:.0f} s "
                "(no free CPU/GPU in the cluster?)"))
            ray.kill(refs[r], no_restart=True)
        good = []
        for r in ready:
            actor = refs[r]
            try:
                ident = ray.get(r)
            except Exception as exc:
                self.refused.append(Refusal("start", None,
                                            f"an actor failed to start: {_one_line(exc)}"))
                ray.kill(actor, no_restart=True)
                continue
            if ident["model_sha256"] != self.model_file.sha256:
                self.refused.append(Refusal(
                    "model", ident["node"],
                    f"{ident['node']}: its model file differs from the driver's "
                    "(SHA-256 mismatch)"))
                ray.kill(actor, no_restart=True)
                continue
            fp = ident["fingerprint"]
            ref = expected if expected is not None else self._reference.get(cfg)
            if ref is None:
                self._reference[cfg] = ref = fp
            if fp[: len(ref)] != ref:
                whose = "the file's" if expected is not None else "the other actors'"
                self.refused.append(Refusal(
                    "numerics", ident["node"],
                    f"{ident['node']}: its model numerics differ from {whose} "
                    "(another CPU kind, GPU or llama.cpp build); refused"))
                ray.kill(actor, no_restart=True)
                continue
            good.append(actor)
            self._identities[id(actor)] = ident
        return good

    @property
    def actor_pids(self) -> list[int]:
        """Process ids of the actors in use (for tests that kill one)."""
        return [self._identities[id(a)]["pid"] for a in list(self._actors)]

    @property
    def actor_nodes(self) -> list[str]:
        """The node of each actor in use, as named in messages."""
        return [self._identities[id(a)]["node"] for a in list(self._actors)]

    def start(self, cfg, expected: bytes | None = None) -> bytes:
        """Have actors ready for ``cfg``; returns the numerics fingerprint they share
        (``expected`` when given, as on decompression). Actors kept from an earlier call
        are checked again for this config; refused ones are replaced."""
        ref = self._reference.get(cfg)
        if (self._actors and self._cfg == cfg and ref is not None
                and (expected is None or ref[: len(expected)] == expected)):
            return ref
        if expected is not None:
            self._reference[cfg] = expected
        n_refused = len(self.refused)
        ray = self._connect()
        kept = self._admit(self._actors, cfg, expected) if self._actors else []
        self._cfg = cfg
        want = self._placeable(ray) - len(kept)
        self._actors = kept + self._admit([self._new_actor() for _ in range(max(0, want))],
                                          cfg, expected)
        if not self._actors:
            why = "; ".join(map(str, self.refused[n_refused:])) or "no actor started"
            kinds = {r.kind for r in self.refused}
            if expected is not None and "numerics" in kinds:
                raise NumericsMismatchError(f"no Ray actor can decode this file: {why}")
            if "model" in kinds:
                raise ModelMismatchError(f"no Ray actor has the driver's model: {why}")
            raise RayError(f"no usable Ray actor: {why}")
        for refusal in self.refused[n_refused:]:
            self._warn(refusal.text)
        return self._reference[cfg]

    def _placeable(self, ray) -> int:
        """``workers``, or fewer when the cluster has fewer CPUs (GPUs) than that: an
        actor Ray cannot place would wait for ever."""
        kind = "GPU" if self.gpus else "CPU"
        have = int(ray.cluster_resources().get(kind, 0))
        if have < self.workers:
            self._warn(f"the cluster has {have} {kind}(s); using {max(1, have)} "
                       f"actor(s), not {self.workers}")
        return max(1, min(self.workers, have))

    def _replace(self, dead) -> None:
        ray = _ray()
        self._actors = [a for a in self._actors if a is not dead]
        try:
            ray.kill(dead, no_restart=True)
        except Exception:
            pass
        if self.replaced >= MAX_REPLACEMENTS_PER_ACTOR * self.workers:
            raise RayError(f"Ray actors kept dying ({self.replaced} replaced); giving up")
        self.replaced += 1
        self._actors += self._admit([self._new_actor()], self._cfg,
                                    self._reference.get(self._cfg))
        if not self._actors:
            raise RayError("every Ray actor died and none could replace them")

    def _kill_actors(self) -> None:
        if not self._actors:
            return
        ray = _ray()
        for a in self._actors:
            try:
                ray.kill(a, no_restart=True)
            except Exception:
                pass
        self._actors = []

    def close(self) -> None:
        from . import interrupts

        with interrupts.deferred():
            self._kill_actors()
            if self._started_ray:
                ray = _ray()
                with _stdout_to_stderr():
                    ray.shutdown()
                self._started_ray = False

    # -- running groups ----------------------------------------------------------------

    def fingerprint(self, cfg) -> bytes:
        """The numerics fingerprint the actors for ``cfg`` share (starts them if needed)."""
        return self.start(cfg)

    def check_numerics(self, cfg, recorded: bytes) -> None:
        """Nothing to check here: each actor is checked against ``recorded`` before it
        gets a job (``run_groups(expected=...)``)."""

    def run_groups(self, items: Iterable[tuple[Any, tuple | None]],
                   expected: bytes | None = None, progress=None) -> Iterator[tuple[Any, Any]]:
        """Yield ``(tag, result)`` for each ``(tag, job)``, in order (see nacz.workers).
        The actors start at the first job, for its config; with ``expected`` (a file's
        fingerprint) only actors with those numerics are used. Actors report no progress
        until a group is done (``progress`` is not called)."""
        ray = _ray()
        from ray.exceptions import RayActorError

        try:
            from ray.exceptions import ActorUnavailableError
            lost_errors: tuple = (RayActorError, ActorUnavailableError)
        except ImportError:
            lost_errors = (RayActorError,)
        live: list = []  # [job, actor, ref] of each job started and not yet collected
        load: dict = {}  # id(actor) -> jobs pending on it

        def run_on_least_loaded(handle) -> None:
            actor = min(self._actors, key=lambda a: load.get(id(a), 0))
            handle[1], handle[2] = actor, actor.run.remote(handle[0])
            load[id(actor)] = load.get(id(actor), 0) + 1

        def submit(job):
            self.start(job.cfg, expected)
            handle = [job, None, None]
            run_on_least_loaded(handle)
            live.append(handle)
            return handle

        def result(handle):
            while True:
                try:
                    out = _wait(ray, handle[2])
                except lost_errors:
                    dead = handle[1]
                    self._replace(dead)
                    load.pop(id(dead), None)
                    for h in live:  # every job the dead actor held runs again
                        if h[1] is dead:
                            run_on_least_loaded(h)
                    continue
                load[id(handle[1])] -= 1
                live.remove(handle)
                return out

        return run_in_order(items, submit, result,
                            lambda: IN_FLIGHT_PER_ACTOR * len(self._actors))


def _wait(ray, ref):
    """``ray.get(ref)``, looking every second for a Ctrl-C that a callback swallowed."""
    from ray.exceptions import GetTimeoutError

    from . import interrupts

    def get():
        with interrupts.deferred():
            return ray.get(ref, timeout=1.0)

    return interrupts.wait(get, GetTimeoutError)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__
