"""The transformer backend: the only module of nacz that imports ``llama_cpp``.

It loads a GGUF model and turns token streams into next-token logits. Many streams share
one llama.cpp context as separate sequences, and one ``llama_decode`` call advances each
given stream by one token (lockstep), which runs at the model's batched rate.

Invariants the codec relies on:
- The logits depend only on the model, the context parameters fixed here or passed in
  (window, eviction, flash attention), and the history of calls. Compressor and
  decompressor make the very same calls in the same order, so they see the same logits.
- A stream's window slides by llama.cpp's own KV-cache removal and position shift: when a
  stream holds ``window`` tokens, the ``evict`` oldest tokens after the start token are
  removed and the rest shifted down. The start token stays at position 0 (attention sink).
  Nothing is ever re-evaluated.
- Nothing is printed to stdout: llama.cpp's log goes nowhere (or to stderr when verbose),
  and the process's stdout is pointed at stderr while the model loads.
- The thread count is only a speed setting: ``threads`` is a cap, and each call uses the
  cores other programs leave free (:mod:`nacz.cpu_share`); llama.cpp's CPU logits do not
  depend on it (tested with the count switched at every call).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

import numpy as np

from .errors import ModelError, ModelLoadError
from .model_file import ModelFile

_lock = threading.Lock()
_initialised = False
_log_callback = None  # keeps the ctypes callback alive


def _llama():
    import llama_cpp  # the project's one import of llama_cpp

    return llama_cpp


def _init_backend(verbose: bool) -> None:
    global _initialised, _log_callback
    with _lock:
        if _initialised:
            return
        L = _llama()

        def log(level, text, user_data):
            if verbose:
                sys.stderr.write(text.decode("utf-8", errors="replace"))

        _log_callback = L.llama_log_callback(log)
        L.llama_log_set(_log_callback, None)
        L.llama_backend_init()
        _initialised = True


@contextlib.contextmanager
def _stdout_to_stderr():
    """Point file descriptor 1 at stderr, so native code cannot write into a pipe."""
    try:
        sys.stdout.flush()
    except (AttributeError, ValueError, OSError):
        pass
    try:
        saved = os.dup(1)
    except OSError:  # no stdout at all
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


#: The instruction set the README's build targets on x86-64 (x86-64-v3), as llama.cpp's
#: system info names it. Files made by such a build decode on any x86-64 CPU with it.
PORTABLE_X86_FEATURES = frozenset({"SSE3", "SSSE3", "AVX", "AVX2", "F16C", "FMA", "BMI2"})
#: System-info entries that are build options, not instruction sets.
_NOT_INSTRUCTION_SETS = frozenset({"LLAMAFILE", "OPENMP", "REPACK", "ACCELERATE", "KLEIDIAI"})


def cpu_features(system_info: str) -> set[str]:
    """The CPU features switched on in llama.cpp's system info (its ``CPU : A = 1 | ...``
    section), build options left out."""
    found: set[str] = set()
    for section in system_info.split("CPU :")[1:]:
        for entry in section.split("|"):
            name, eq, value = entry.partition("=")
            name = name.strip()
            if not eq or " " in name or ":" in name:
                break  # the next backend's section begins
            if value.strip() not in ("", "0") and name not in _NOT_INSTRUCTION_SETS:
                found.add(name)
    return found


def nonportable_cpu_features(system_info: str | None = None, machine: str | None = None
                             ) -> list[str]:
    """The instruction sets the llama.cpp library in use was built for beyond the portable
    x86-64-v3 set (e.g. AVX512, AMX from a -march=native build): files it makes decode
    only where llama.cpp has the same kernels. Empty on other machines than x86-64, whose
    numerics are their own anyway."""
    import platform

    if (machine or platform.machine()).lower() not in ("x86_64", "amd64"):
        return []
    if system_info is None:
        system_info = _llama().llama_print_system_info().decode("utf-8", errors="replace")
    return sorted(cpu_features(system_info) - PORTABLE_X86_FEATURES)


class LlamaBackend:
    """A loaded model: vocabulary, tokenizer, and factories for stream sets."""

    def __init__(self, model: ModelFile, threads: int | None = None, verbose: bool = False,
                 gpu: int | None = None):
        """``gpu``: None runs on the CPU; a device index puts every layer on that GPU
        (split mode none), which needs a llama.cpp built with GPU support."""
        _init_backend(verbose)
        L = _llama()
        self.model_file = model
        self.threads = threads or default_threads()
        self.gpu = gpu
        from .cpu_share import CpuShare

        #: Threads per call: ``threads`` at most, fewer while other programs use the cores.
        #: A GPU run keeps its count (its threads mostly wait for the device).
        self.cpu_share = CpuShare(self.threads if gpu is None else 1)
        params = L.llama_model_default_params()
        if gpu is None:
            params.n_gpu_layers = 0
        else:
            if not L.llama_supports_gpu_offload():
                raise ModelLoadError(
                    "--gpus: this llama-cpp-python was built without GPU support "
                    "(reinstall it with CMAKE_ARGS=\"-DGGML_CUDA=on\", see the README)"
                )
            params.n_gpu_layers = -1  # all layers
            params.split_mode = L.LLAMA_SPLIT_MODE_NONE
            params.main_gpu = int(gpu)
        with _stdout_to_stderr():
            self._model = L.llama_model_load_from_file(str(model.path).encode(), params)
        if not self._model:
            where = "" if gpu is None else f" on GPU {gpu}"
            raise ModelLoadError(f"llama.cpp could not load model {model.path}{where}")
        self._vocab = L.llama_model_get_vocab(self._model)
        self.n_vocab = int(L.llama_vocab_n_tokens(self._vocab))
        self.n_ctx_train = int(L.llama_model_n_ctx_train(self._model))
        self.token_texts = [
            L.llama_vocab_get_text(self._vocab, i) or b"" for i in range(self.n_vocab)
        ]

    def tokenize(self, raw: bytes) -> list[int]:
        """llama.cpp's tokenizer, without special tokens and with special strings as text."""
        L = _llama()
        cap = len(raw) + 16
        buf = (L.llama_token * cap)()
        n = L.llama_tokenize(self._vocab, raw, len(raw), buf, cap, False, False)
        if n < 0:
            raise ModelError(f"llama.cpp tokenizer failed ({n})")
        return list(buf[:n])

    def numerics_identity(self) -> list[str]:
        """What decides this backend's logits besides the model and the call pattern: the
        llama.cpp build (every native library file by name, size and modification time),
        the CPU features ggml uses, the device, and the environment variables llama.cpp,
        ggml and OpenMP read. Equal identities compute equal logits."""
        L = _llama()
        lib_dir = os.path.dirname(os.path.abspath(L.__file__))
        files = []
        for root, _dirs, names in os.walk(lib_dir):
            for name in sorted(names):
                if name.endswith((".so", ".dylib", ".dll")) or ".so." in name:
                    st = os.stat(os.path.join(root, name))
                    files.append(f"{os.path.relpath(os.path.join(root, name), lib_dir)}"
                                 f":{st.st_size}:{st.st_mtime_ns}")
        env = [f"{k}={v}" for k, v in sorted(os.environ.items())
               if k.startswith(("GGML_", "LLAMA_", "OMP_", "CUDA_", "HIP_", "GPU_"))]
        system = L.llama_print_system_info().decode("utf-8", errors="replace")
        return [f"llama_cpp {L.__version__}", *sorted(files), f"system {system}",
                f"device {'cpu' if self.gpu is None else f'gpu {self.gpu}'}", *env]

    def context_params(self, n_seq: int, n_ctx: int, n_batch: int, flash_attn: bool):
        """llama.cpp context parameters for this backend's device and threads."""
        cp = _llama().llama_context_default_params()
        cp.n_seq_max = n_seq
        cp.n_ctx = n_ctx
        cp.n_batch = cp.n_ubatch = n_batch
        cp.n_threads = cp.n_threads_batch = self.threads
        cp.flash_attn_type = 1 if flash_attn else 0
        cp.no_perf = True
        # A CPU context stays on the CPU even in a GPU build of llama.cpp (which would
        # otherwise send large batches' matrix products to a GPU): CPU and GPU numerics
        # differ, and the numerics fingerprint must describe one of them.
        cp.offload_kqv = cp.op_offload = self.gpu is not None
        return cp

    def sequence_cost_bits(self, tokens, start_token: int, count_from: int = 0) -> float:
        """Bits the model alone (softmax at temperature 1) spends on ``tokens[count_from:]``
        after ``start_token`` and ``tokens[:count_from]`` (their context), from one
        batched evaluation with every row's logits.

        An estimate for planning, never part of a bitstream: it runs in its own context,
        so it changes no stream's logits. ``tokens`` must be vocabulary ids.
        """
        L = _llama()
        toks = [int(start_token)] + [int(t) for t in tokens]
        n = len(toks)
        cp = self.context_params(1, n, n, flash_attn=False)
        with _stdout_to_stderr():
            ctx = L.llama_init_from_model(self._model, cp)
        if not ctx:
            raise ModelError(f"llama.cpp could not create a context for {n} tokens")
        batch = L.llama_batch_init(n, 0, 1)
        try:
            for k, t in enumerate(toks):
                batch.token[k] = t
                batch.pos[k] = k
                batch.n_seq_id[k] = 1
                batch.seq_id[k][0] = 0
                # row k predicts toks[k + 1], i.e. tokens[k]
                batch.logits[k] = 1 if count_from <= k < n - 1 else 0
            batch.n_tokens = n
            rc = L.llama_decode(ctx, batch)
            if rc != 0:
                raise ModelError(f"llama_decode failed with status {rc}")
            m = n - 1 - count_from
            rows = np.ctypeslib.as_array(L.llama_get_logits(ctx), shape=(m, self.n_vocab))
            bits = 0.0
            nxt = np.asarray(toks[1 + count_from:], dtype=np.int64)
            for a in range(0, m, 64):  # float64 in slices: bounded memory
                x = rows[a:a + 64].astype(np.float64)
                top = x.max(axis=1)
                lse = top + np.log(np.exp(x - top[:, None]).sum(axis=1))
                bits += float((lse - x[np.arange(len(x)), nxt[a:a + 64]]).sum())
            return bits / np.log(2.0)
        finally:
            L.llama_batch_free(batch)
            L.llama_free(ctx)

    def open_streams(
        self, n_streams: int, window: int, evict: int, flash_attn: bool
    ) -> "StreamSet":
        return StreamSet(self, n_streams, window, evict, flash_attn)

    def close(self) -> None:
        if getattr(self, "_model", None):
            _llama().llama_model_free(self._model)
            self._model = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class StreamSet:
    """``n_streams`` token streams in one llama.cpp context, advanced in lockstep."""

    def __init__(
        self, backend: LlamaBackend, n_streams: int, window: int, evict: int, flash_attn: bool
    ):
        L = _llama()
        if not 1 <= n_streams <= L.llama_max_parallel_sequences():
            raise ValueError(f"unsupported stream count {n_streams}")
        if not 1 <= evict <= window - 2:
            raise ValueError("evict must be in 1..window-2")
        self._backend = backend
        self.n_streams = n_streams
        self.window = window
        self.evict = evict
        self.n_vocab = backend.n_vocab
        cp = backend.context_params(n_streams, n_streams * window, max(n_streams, 32),
                                    flash_attn)
        cp.kv_unified = False  # each stream gets its own `window` cells
        with _stdout_to_stderr():
            self._ctx = L.llama_init_from_model(backend._model, cp)
        if not self._ctx:
            raise ModelError(
                f"llama.cpp could not create a context for {n_streams} streams x {window} tokens"
            )
        if L.llama_n_ctx_seq(self._ctx) < window:
            raise ModelError("llama.cpp gave each stream fewer cells than the window")
        self._mem = L.llama_get_memory(self._ctx)
        if not L.llama_memory_can_shift(self._mem):
            raise ModelError("this model's KV cache cannot shift positions")
        self._batch = L.llama_batch_init(n_streams, 0, 1)
        self._pos = np.zeros(n_streams, dtype=np.int64)
        self._threads = backend.threads

    def advance(self, stream_ids, tokens, want_logits=None) -> np.ndarray:
        """Append ``tokens[k]`` to stream ``stream_ids[k]`` for each k, in one decode call.

        Returns the next-token logits as a float32 view into llama.cpp's buffer, valid until
        the next call: one row per given stream, or, when ``want_logits`` is given, one row
        per stream k with ``want_logits[k]`` true, in order (a row that is not wanted skips
        the output layer). If no row is wanted, the last one is computed anyway, since
        llama.cpp expects an output; callers ignore it.
        """
        L = _llama()
        n = len(stream_ids)
        if n == 0 or n > self.n_streams:
            raise ValueError("advance needs 1..n_streams streams")
        b = self._batch
        n_out = 0
        for k in range(n):
            s = int(stream_ids[k])
            if self._pos[s] >= self.window:
                # Drop the oldest tokens after the start token and slide the rest down.
                L.llama_memory_seq_rm(self._mem, s, 1, 1 + self.evict)
                L.llama_memory_seq_add(self._mem, s, 1 + self.evict, -1, -self.evict)
                self._pos[s] -= self.evict
            b.token[k] = int(tokens[k])
            b.pos[k] = int(self._pos[s])
            b.n_seq_id[k] = 1
            b.seq_id[k][0] = s
            wanted = 1 if want_logits is None or want_logits[k] else 0
            b.logits[k] = wanted
            n_out += wanted
            self._pos[s] += 1
        if n_out == 0:
            b.logits[n - 1] = 1
            n_out = 1
        b.n_tokens = n
        if self._backend.gpu is None:
            want = self._backend.cpu_share.threads()
            if want != self._threads:
                L.llama_set_n_threads(self._ctx, want, want)
                self._threads = want
        rc = L.llama_decode(self._ctx, b)
        if rc != 0:
            raise ModelError(f"llama_decode failed with status {rc}")
        ptr = L.llama_get_logits(self._ctx)
        return np.ctypeslib.as_array(ptr, shape=(n_out, self.n_vocab))

    def enable_hidden_states(self) -> None:
        """Keep each call's final hidden states (research probes; the codec never does)."""
        _llama().llama_set_embeddings(self._ctx, True)

    def hidden_states(self, n_rows: int) -> np.ndarray:
        """The last call's final (normed) hidden states, one row per output row, as a
        float32 view valid until the next call; needs :meth:`enable_hidden_states`."""
        L = _llama()
        n_embd = int(L.llama_model_n_embd(self._backend._model))
        return np.ctypeslib.as_array(L.llama_get_embeddings(self._ctx), shape=(n_rows, n_embd))

    def close(self) -> None:
        L = _llama()
        if getattr(self, "_batch", None) is not None:
            L.llama_batch_free(self._batch)
            self._batch = None
        if getattr(self, "_ctx", None):
            L.llama_free(self._ctx)
            self._ctx = None

    def __enter__(self) -> "StreamSet":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
