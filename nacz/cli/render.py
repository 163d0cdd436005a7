"""How ``nacz info`` and ``nacz list`` show a file's header: plain data in, text out."""

from __future__ import annotations

from ..formats import SegmentKind

#: Segment kind -> its name in ``nacz info``: the member's name, lower-case, '+' for '_'.
KIND_NAMES = {int(k): k.name.lower().replace("_", "+") for k in SegmentKind}


def info_record(file: str, found) -> dict:
    """What ``nacz info`` shows of ``found`` (a :class:`nacz.api.FileInfo`), as data
    (``--json`` prints exactly this)."""
    from ..config import level_of
    from ..model_file import recorded_model_name

    h, cfg, compressed = found.header, found.config, found.compressed_bytes
    model_name, model_bundled = recorded_model_name(h.model_name)
    return {
        "file": file,
        "compressed_bytes": compressed,
        "original_bytes": h.original_length,
        "bits_per_byte": (8 * compressed / h.original_length) if h.original_length else None,
        "model": model_name,
        "model_bundled": model_bundled,
        "model_sha256_prefix": h.model_id.hex(),
        "level": level_of(cfg),
        "config": config_record(cfg),
        "segments": [
            {"kind": KIND_NAMES.get(s.kind, str(s.kind)), "group": s.group,
             "tokens": s.n_tokens, "bytes": s.n_bytes, "payload_bytes": s.payload_length}
            for s in h.segments
        ],
    }


def info_text(record: dict, found) -> str:
    """``nacz info``'s text for ``record`` (:func:`info_record` of ``found``)."""
    from ..model_file import recorded_model_display

    h, compressed, file = found.header, found.compressed_bytes, record["file"]
    bpb = record["bits_per_byte"]
    lines = [
        f"file:        {file}",
        f"original:    {h.original_length} bytes",
        f"compressed:  {compressed} bytes" + (f" ({bpb:.3f} bits/byte)" if bpb else ""),
        f"model:       {recorded_model_display(h.model_name)}"
        f" (sha256 {h.model_id.hex()}{'...' if len(h.model_id) < 32 else ''})",
        f"level:       {record['level'] or 'none (a config of its own)'}",
        "config:      " + ", ".join(f"{k}={v}" for k, v in record["config"].items()),
        f"segments:    {len(h.segments)}",
    ]
    for i, seg in enumerate(record["segments"]):
        lines.append(
            f"  {i:4d} {seg['kind']:<12} group {seg['group']:<4} {seg['bytes']:>10} bytes"
            f" -> {seg['payload_bytes']:>9}" + (f" ({seg['tokens']} tokens)" if seg["tokens"] else "")
        )
    return "\n".join(lines)


def config_record(cfg) -> dict:
    """The config as shown by ``info``: predictor fields only when the file records them."""
    names = list(cfg.__dataclass_fields__)
    shown = names if cfg.predictors else names[: names.index("predictors") + 1]
    record = {k: getattr(cfg, k) for k in shown}
    record["predictors"] = ",".join(cfg.predictor_names()) or "none"
    from ..config import OFFMODEL_NAMES

    record["offmodel"] = {v: k for k, v in OFFMODEL_NAMES.items()}[cfg.offmodel]
    if cfg.predictors:
        record["ngram_orders"] = list(cfg.ngram_orders)
    from ..config import STRUCT_KINDS, Predictor

    names_of = {v: k for k, v in STRUCT_KINDS.items()}
    if cfg.predictors & Predictor.STRUCT:
        record["struct_contexts"] = ",".join(names_of[k] for k in cfg.struct_contexts)
    else:
        record.pop("struct_contexts", None)
    return record


LIST_HEADER = (f"{'compressed':>12} {'uncompressed':>12} {'ratio':>6} {'bits/byte':>9}  "
               "uncompressed_name")


def list_line(compressed: int, original: int, name: str) -> str:
    ratio = f"{100 * (1 - compressed / original):5.1f}%" if original else "  0.0%"
    bpb = f"{8 * compressed / original:9.3f}" if original else f"{'-':>9}"
    return f"{compressed:>12} {original:>12} {ratio:>6} {bpb}  {name}"
