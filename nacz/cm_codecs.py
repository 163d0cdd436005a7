"""Context-mixing codecs for what the model does not code: PPMd and ZPAQ, from libraries.

PPMd is variant H (7-Zip's Ppmd7) from ``pyppmd``, the library py7zr uses; ZPAQ is
libzpaq's method 5 (the public-domain reference of the open ZPAQ standard, as ``zpaq -m5``
writes it) through the ``zpaq`` binding. Neither is written here: both are well-kept
reference implementations, and a ZPAQ stream carries its own model, so any ZPAQ decoder
(the ``zpaq`` program, libzpaq) reads our payloads forever.

Payload formats (the container's segment table gives kind and original length):

- PPMd (``SegmentKind.PPMD``): u8 model order (2..64), u8 log2 of the model memory
  (:data:`PPMD_MIN_MEM_LOG` .. :func:`ppmd_mem_log` of the length), then the Ppmd7
  range-coder stream, without an end mark.
- ZPAQ (``SegmentKind.ZPAQ``): one ZPAQ block as libzpaq writes it, less the 13-byte locator
  tag (:data:`ZPAQ_TAG`) that every such block starts with.

Invariants:
- Compression is deterministic: the payload depends only on the input bytes (the library
  versions are pinned; ZPAQ runs single-threaded, as one block).
- Decompression never runs either library in this process. Both trust their input: pyppmd
  crashes on a truncated stream (measured: a segmentation fault), and a ZPAQ stream sets
  its own model's memory, its own programs and its own output length. So each payload is
  decoded in a child process (:func:`_decode_in_child`) whose address space and CPU time
  are capped by limits computed from the expected length alone, and whose output is read
  up to ``expected_length + 1`` bytes. A corrupt, truncated or forged payload ends as a
  one-line :class:`~nacz.errors.BinaryCodecError`, in bounded time and memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from .errors import BinaryCodecError

#: Model order of PPMd: measured on 21 texts of 16 KiB (bench/CM.md), order 16 is never
#: worse than 6 or 8 by more than noise and up to 13% better (JSON); 32 equals 16.
PPMD_ORDER = 16
PPMD_MIN_MEM_LOG = 20  # 1 MiB
PPMD_MAX_MEM_LOG = 28  # 256 MiB
#: libzpaq's compression method: 5, the strongest (zpaq -m5).
ZPAQ_LEVEL = 5
#: The locator tag libzpaq writes before every block ("7kSt" and 9 more bytes).
ZPAQ_TAG = bytes.fromhex("376b5374a03183d38cb228b0d3")

#: The child's address space: a Python with one library loaded, the model's memory, and
#: the output. Measured peaks (VmPeak) of ZPAQ method-5 decoding: 103 MB for 16 KB to
#: 1 MB outputs, 204 MB for 4 MB, 330 MB for 8 MiB (bench/CM.md); PPMd needs its stated
#: memory plus the output.
CHILD_BASE_MEMORY = 384 << 20
ZPAQ_MEMORY_PER_BYTE = 40
#: The child's CPU seconds: a floor plus 50 us a byte (20 KB/s, 25x below the slowest
#: rate measured here, so a slow machine never refuses a good payload).
CHILD_BASE_SECONDS = 30
CHILD_SECONDS_PER_BYTE = 50e-6

_CHILD = Path(__file__).with_name("cm_child.py")


def ppmd_mem_log(n: int) -> int:
    """log2 of the PPMd memory for an input of ``n`` bytes: 16x the input's next power of
    two, within 1 MiB .. 256 MiB. The decoder refuses more than this for ``n``."""
    return max(PPMD_MIN_MEM_LOG, min(PPMD_MAX_MEM_LOG, max(0, n - 1).bit_length() + 4))


def compress_ppmd(data) -> bytes:
    """The PPMd payload of ``data``. The encoder runs in a child process too: pyppmd's
    encoder never releases the buffers it is given (measured: every block's bytes stayed
    alive), so in this process memory would grow with the input."""
    mem_log = ppmd_mem_log(len(data))
    stream = _run_child("ppmd-encode", bytes(data), PPMD_ORDER, 1 << mem_log,
                        int(CHILD_BASE_SECONDS + CHILD_SECONDS_PER_BYTE * len(data)), "PPMd")
    return bytes([PPMD_ORDER, mem_log]) + stream


def compress_zpaq(data) -> bytes:
    import zpaq

    blob = zpaq.compress(bytes(data), level=ZPAQ_LEVEL, threads=1)
    if not blob.startswith(ZPAQ_TAG):
        raise BinaryCodecError("the zpaq library wrote a block without its locator tag")
    return blob[len(ZPAQ_TAG):]


def decompress_ppmd(payload: bytes, expected_length: int) -> bytes:
    if len(payload) < 2:
        raise BinaryCodecError("PPMd segment is truncated")
    order, mem_log = payload[0], payload[1]
    if not 2 <= order <= 64:
        raise BinaryCodecError(f"PPMd segment has model order {order}, not in 2..64")
    if not PPMD_MIN_MEM_LOG <= mem_log <= ppmd_mem_log(expected_length):
        raise BinaryCodecError(
            f"PPMd segment asks for 2^{mem_log} bytes of model memory, more than "
            f"2^{ppmd_mem_log(expected_length)} for {expected_length} bytes")
    if expected_length == 0:
        return b""
    return _decode_in_child("ppmd", payload, expected_length,
                            CHILD_BASE_MEMORY + (1 << mem_log) + 2 * expected_length)


def decompress_zpaq(payload: bytes, expected_length: int) -> bytes:
    if not payload.startswith(b"zPQ"):
        raise BinaryCodecError("ZPAQ segment does not start with a ZPAQ block")
    return _decode_in_child("zpaq", payload, expected_length,
                            CHILD_BASE_MEMORY + ZPAQ_MEMORY_PER_BYTE * expected_length)


def _decode_in_child(codec: str, payload: bytes, n: int, memory: int) -> bytes:
    seconds = int(CHILD_BASE_SECONDS + CHILD_SECONDS_PER_BYTE * n)
    name = {"ppmd": "PPMd", "zpaq": "ZPAQ"}[codec]
    out = _run_child(codec, payload, n, memory, seconds, name, limit=n + 1)
    if len(out) > n:
        raise BinaryCodecError(f"{name} segment decodes to more than {n} bytes")
    if len(out) != n:
        raise BinaryCodecError(f"{name} segment decoded to {len(out)} bytes, expected {n}")
    return out


def _run_child(codec: str, payload: bytes, n: int, memory: int, seconds: int, name: str,
               limit: int | None = None) -> bytes:
    """The child's output (at most ``limit`` bytes; the child is killed past them)."""
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", str(_CHILD), codec, str(n), str(memory), str(seconds)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL")},
        )
    except OSError as exc:
        raise BinaryCodecError(f"cannot start the {name} decoder: {exc}") from None
    # stderr is drained beside us (at most a line is kept), so the child never blocks on it.
    errors: list[bytes] = []
    drain = threading.Thread(target=lambda: errors.append(proc.stderr.read(4096)), daemon=True)
    drain.start()
    try:
        try:
            proc.stdin.write(payload)
            proc.stdin.close()
        except BrokenPipeError:
            pass  # the child died early; its status says why
        out = _read_at_most(proc.stdout, limit)
        if limit is not None and len(out) >= limit:
            proc.kill()
            return out
        status = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        drain.join(5)
        proc.stderr.close()
    if status != 0:
        why = b"".join(errors).decode("utf-8", "replace").strip().splitlines()
        if status < 0:
            reason = {9: "was killed", 24: "ran out of time", 11: "crashed",
                      6: "aborted"}.get(-status, f"died of signal {-status}")
            reason = f"the decoder {reason}"
        else:
            reason = why[-1] if why else f"the decoder failed (status {status})"
        if codec == "ppmd-encode":
            raise BinaryCodecError(f"the PPMd encoder failed: {reason}")
        raise BinaryCodecError(f"{name} segment is corrupt: {reason}")
    return out


def _read_at_most(stream, limit: int | None) -> bytes:
    chunks, got = [], 0
    while limit is None or got < limit:
        chunk = stream.read(1 << 20 if limit is None else min(1 << 20, limit - got))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)
