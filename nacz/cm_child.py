"""Decodes one PPMd or ZPAQ payload in a process of its own (see nacz.cm_codecs).

Run as ``python -I cm_child.py CODEC LENGTH MEMORY SECONDS`` with the payload on stdin;
writes the decoded bytes to stdout. ``ppmd-encode`` (LENGTH is then the model order and
MEMORY its memory) encodes instead: pyppmd's encoder keeps a reference to every buffer it
is given (measured: the input's refcount stays raised after the encoder is deleted), so
in nacz's process each block would leak its bytes. The limits are set before the payload is read or a
library is loaded, so neither a crash nor a stream that asks for too much memory or time
can reach the parent. This file imports nothing of nacz: it runs by path, not as part of
the package.
"""

import resource
import sys

ZPAQ_TAG = bytes.fromhex("376b5374a03183d38cb228b0d3")


def main() -> int:
    codec, n, memory, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    if codec != "ppmd-encode":  # decoding: the payload is not ours to trust
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    payload = sys.stdin.buffer.read()
    try:
        if codec == "ppmd-encode":  # n is the model order, memory its memory
            import pyppmd

            enc = pyppmd.Ppmd7Encoder(n, memory)
            out = enc.encode(payload) + enc.flush(endmark=False)
        elif codec == "ppmd":
            import pyppmd

            dec = pyppmd.Ppmd7Decoder(payload[0], 1 << payload[1])
            out = dec.decode(payload[2:], n)
        elif codec == "zpaq":
            import zpaq

            out = zpaq.decompress(ZPAQ_TAG + payload, threads=1)
        else:
            raise ValueError(f"unknown codec {codec!r}")
    except MemoryError:
        print("the decoder ran out of its memory", file=sys.stderr)
        return 3
    except Exception as exc:  # noqa: BLE001 -- any failure: one line for the parent
        print(" ".join(str(exc).split())[:200] or type(exc).__name__, file=sys.stderr)
        return 3
    sys.stdout.buffer.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
