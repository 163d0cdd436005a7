"""The predictors and the lockstep loop without the model: a fake backend, synthetic ids.

The golden digests were made by the code of commit 842d24e (before the predictors were
split into components); they pin every CDF the predictors produce under each setting, so a
restructuring that changes one bit of one probability fails here, long before the
real-model golden tests run.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from _fake_backend import FakeBackend, synthetic_streams

from nacz.codec import decode_streams, encode_streams
from nacz.config import (
    CodecConfig,
    Predictor,
)

LENGTHS = (1500, 700, 1)

#: name -> (config, SHA-256 of the payloads the codec wrote with it at 842d24e)
CASES = {
    "default": (CodecConfig(),
        "56f0966c47f6497177b59cf4ea917afa8bf1fe4eddc72334d6c5e2c90d0013d1"),
    "llm-alone": (CodecConfig(predictors=0),
        "528d5b8197e38b2d1118d3b8bd58b2401dffc1f41491320f3eae033dc55a619a"),
    "bias": (CodecConfig(predictors=Predictor.BIAS),
        "328d687136fc59c48c88e3ef6222f6f2b07004636df982d780458932cf666b93"),
    "ngram": (CodecConfig(predictors=Predictor.NGRAM),
        "1e8e4627fa5832539fdc4725219149a02ce1bba644d7a5231750122064484e00"),
    "match": (CodecConfig(predictors=Predictor.MATCH),
        "ddab0dc82665cf029612825e471575c032d96317990771a79dcb0a545369de5f"),
    "temp": (CodecConfig(predictors=Predictor.TEMP),
        "86a48dfa0c716527426ecc58a8ff70e14d32c9c746bd13bc2434bcef34db7e56"),
    "apm": (CodecConfig(predictors=Predictor.APM),
        "8095e678d0151eea43624d41a03aab3f3b7044d2e768500ae1cf972aaa53a70b"),
    "unigram": (CodecConfig(predictors=Predictor.UNIGRAM),
        "e4133429862bc998ccfa3d63dcc67284c428081c8812a1b6f94dca80fc8dc2de"),
    "all-unshared": (CodecConfig(predictors=Predictor.ALL),
        "22325ed73c94380f8eec1228661eb4d6b01a5a2f2ae3140510351a782d2cff6a"),
    "temperature": (CodecConfig(temperature=0.8),
        "b81d7ef54baac2603928465d64f489221a4ddc367b7bf6f3faf317ade110b0c5"),
    "skip": (CodecConfig(skip_min_match=6, skip_confidence=0.6),
        "14a0406f5cfe496916573844c0cbd0a125771ebd1bcfa2bc31059b59c659d142"),
    "decay-orders": (CodecConfig(bias_decay=0.01, ngram_orders=(1, 3, 5), ngram_slots=4,
                                 predictors=Predictor.ALL | Predictor.SHARED),
        "f58bb4467f0c4ce041dc0ba04c67545725af964e479995cd7faa8a01ef858fe1"),
}


def _digest(payloads) -> str:
    h = hashlib.sha256()
    for p in payloads:
        h.update(len(p).to_bytes(8, "little") + p)
    return h.hexdigest()


@pytest.fixture(scope="module")
def fake():
    return FakeBackend()


@pytest.mark.parametrize("name", sorted(CASES))
def test_lockstep_golden_and_round_trip(fake, name):
    cfg, golden = CASES[name]
    streams = synthetic_streams(fake.n_vocab, LENGTHS)
    payloads = encode_streams(fake, streams, cfg)
    digest = _digest(payloads)
    decoded = decode_streams(fake, [len(s) for s in streams], payloads, cfg)
    for a, b in zip(streams, decoded):
        assert np.array_equal(a, b)
    assert digest == golden


# -- the pieces on their own -------------------------------------------------------------

from nacz import components as C  # noqa: E402
from nacz.coder import PRECISION_BITS, TOTAL, quantize_probabilities  # noqa: E402
from nacz.predictors import SHARED_STATE, Predictors  # noqa: E402


def _drive(cfg, n_vocab=400, n=2500, seed=5, shared_streams=1):
    """Run ``shared_streams`` Predictors (sharing when the config says so) over synthetic
    ids and the fake model's logits; returns them and every distribution's digest."""
    fake = FakeBackend(n_vocab)
    ids = synthetic_streams(n_vocab, [n] * shared_streams, seed=seed)
    first = Predictors(n_vocab, cfg)
    share = first if cfg.predictors & Predictor.SHARED else None
    preds = [first] + [Predictors(n_vocab, cfg, shared_with=share)
                       for _ in range(shared_streams - 1)]
    h = hashlib.sha256()
    cdf = np.empty(n_vocab + 1, dtype=np.int64)
    for step in range(n):
        for s, pr in enumerate(preds):
            tok = int(ids[s][step])
            if tok < n_vocab:
                prev = int(ids[s][step - 1]) if step else 0
                logits = fake.table[prev % 97] * np.float32(1 + step % 5)
                probs = pr.predict(logits)
                _check_distribution(pr, probs)
                quantize_probabilities(probs, out=cdf)
                assert np.all(np.diff(cdf) > 0) and cdf[-1] == TOTAL
                h.update(cdf.tobytes())
            pr.update(tok)
    return preds, h.hexdigest()


def _check_distribution(pr, probs):
    """Every probability positive; the top token's is p_fin and the others share 1 - p_fin,
    up to how far the mix's own sum (V roundings) is from 1, relative to 1 - p_top: with
    p_top near 1 that is far from exact, and the quantizer normalizes what it is given."""
    assert np.all(probs > 0)
    mixer = pr.state.mixer
    top = int(mixer.state[0]["top"])
    p_top = mixer.mixed[top]
    p_fin = probs[top]
    others = probs.sum() - p_fin
    slack = (len(probs) + 4) * np.spacing(1.0) / max(1.0 - p_top, 1e-300)
    assert abs(others - (1.0 - p_fin)) <= (1.0 - p_fin) * slack + 1e-12


def test_predictors_are_deterministic():
    assert _drive(CodecConfig())[1] == _drive(CodecConfig())[1]


def test_learned_state_stays_in_bounds():
    cfg = CodecConfig()
    (pr, *_), _ = _drive(cfg, n=3000)
    st = pr.state
    assert np.all((st.mixer.weight >= -2.0) & (st.mixer.weight <= 8.0))
    assert np.all((st.temperature.weight >= 0.25) & (st.temperature.weight <= 4.0))
    assert np.all((st.unigram.weight >= -1.0) & (st.unigram.weight <= 2.0))
    assert np.all(np.abs(st.bias.bias) <= cfg.bias_clip)
    assert np.all((st.match.hit_prob >= 0.001) & (st.match.hit_prob <= 0.9999))
    assert np.all((st.ngram.count >= 0) & (st.ngram.count <= 250))
    assert np.all((st.apm.table > 0.0) & (st.apm.table < 1.0))
    # the run exercised what it bounds
    assert np.any(st.mixer.weight != cfg.init_ngram_weight)
    assert np.any(st.match.hit_prob != 0.5) and st.match.hit_count.sum() > 0
    assert st.unigram.seen[0] == int(st.unigram.count.sum())


#: (piece, field) of the learned tables a group's streams share; the rest is per stream.
_SHARED_FIELDS = [("ngram", "check"), ("ngram", "token"), ("ngram", "count"),
                  ("match", "hit_prob"), ("match", "hit_count"), ("bias", "bias"),
                  ("unigram", "count"), ("unigram", "log_count"), ("unigram", "seen"),
                  ("unigram", "weight"), ("temperature", "weight"), ("mixer", "weight"),
                  ("apm", "table")]
_OWN_FIELDS = [("history", "ring"), ("history", "state"), ("match", "tab_short"),
               ("match", "tab_long"), ("match", "state"), ("ngram", "ctx_bucket"),
               ("ngram", "ctx_check"), ("mixer", "cand_phi"), ("mixer", "mixed"),
               ("mixer", "state"), ("apm", "state"), ("temperature", "state")]


def _field(pr, piece, field):
    return getattr(getattr(pr.state, piece), field)


def test_shared_streams_share_learned_tables_only():
    assert {piece for piece, _ in _SHARED_FIELDS} == set(SHARED_STATE)
    (a, b), _ = _drive(CodecConfig(), n=300, shared_streams=2)
    for piece, field in _SHARED_FIELDS:
        assert _field(a, piece, field) is _field(b, piece, field), (piece, field)
    for piece, field in _OWN_FIELDS:
        assert _field(a, piece, field) is not _field(b, piece, field), (piece, field)
    assert a.state.step is not b.state.step
    (c, d), _ = _drive(CodecConfig(predictors=Predictor.ALL), n=50, shared_streams=2)
    for piece, field in _SHARED_FIELDS:
        assert _field(c, piece, field) is not _field(d, piece, field), (piece, field)


def test_match_model_follows_a_repeat():
    """A repeated phrase: the match model predicts each next id of the repeat."""
    V = 50
    pr = Predictors(V, CodecConfig(predictors=Predictor.MATCH))
    phrase = list(range(3, 23))
    for t in phrase + [40] + phrase[:6]:
        pr.update(t)
    st = pr.state.match.state[0]
    assert st["length"] >= 6
    assert pr.state.history.ring[st["ptr"] & pr.state.history.mask] == phrase[6]
    length, q = pr.match_state()
    assert length == st["length"] and 0.0 < q < 1.0


def test_escape_ids_train_nothing_but_enter_the_history():
    V = 50
    pr = Predictors(V, CodecConfig())
    before = pr.state.bias.bias.copy()
    pr.predict(np.zeros(V, dtype=np.float32))
    pr.update(V + 7)  # an escape id
    assert np.array_equal(pr.state.bias.bias, before)
    assert pr.state.history.ring[0] == V + 7 and pr.state.history.state[0]["n"] == 1
    assert pr.state.unigram.seen[0] == 0


def test_portable_math_agrees_with_libm_closely():
    xs = np.array([1e-300, 1e-9, 0.5, 1.0, 2.0, 10.0, 1e300])
    for x in xs:
        assert abs(C.portable_log(x) - np.log(x)) <= 1e-15 * max(1.0, abs(np.log(x)))
    for t in (-8.0, -1.0, 0.0, 1.0, 8.0):  # the APM's range
        assert abs(C.squash(t) - 1.0 / (1.0 + np.exp(-t))) < 1e-15
        assert abs(C.stretch(C.squash(t)) - t) < 1e-9 * max(1.0, abs(t))


def test_adaptive_bit_equals_the_formulas_it_replaced():
    """Krichevsky-Trofimov (the escape flag) and the sharp prior (the layout flags), as the
    escape model and the layout flags wrote them before they shared this piece."""
    kt = C.AdaptiveBit(1, scale=2)
    escapes = 0
    rng = np.random.default_rng(1)
    for step in range(3000):
        old = ((2 * escapes + 1) << (PRECISION_BITS - 1)) // (step + 1)
        assert kt.cdf(0)[1] == TOTAL - min(max(old, 1), TOTAL - 1)
        bit = int(rng.random() < 0.01)
        kt.update(0, bit)
        escapes += bit
    sharp = C.AdaptiveBit(2, scale=16, count_limit=1 << 12)
    n = [[0, 0], [0, 0]]
    for i in range(10000):
        ctx = i % 2
        n0, n1 = n[ctx]
        old = ((16 * n1 + 1) << PRECISION_BITS) // (16 * (n0 + n1) + 2)
        assert sharp.cdf(ctx)[1] == TOTAL - min(max(old, 1), TOTAL - 1)
        bit = int(rng.random() < (0.02 if ctx else 0.7))
        sharp.update(ctx, bit)
        n[ctx][bit] += 1
        if n[ctx][0] + n[ctx][1] > 1 << 12:
            n[ctx] = [(n[ctx][0] + 1) // 2, (n[ctx][1] + 1) // 2]


def test_lockstep_skips_rows_it_does_not_want(fake):
    """The confidence skip: the fake model computes fewer rows than tokens are coded, and
    the decoder, skipping the same rows, still decodes."""
    cfg = CodecConfig(skip_min_match=6, skip_confidence=0.6)
    streams = synthetic_streams(fake.n_vocab, LENGTHS)
    stats = {}
    payloads = encode_streams(fake, streams, cfg, stats=stats)
    assert stats["skipped"] > 50
    decoded = decode_streams(fake, [len(s) for s in streams], payloads, cfg)
    assert all(np.array_equal(a, b) for a, b in zip(streams, decoded))


def test_an_escape_costs_the_flag_plus_eight_bits_for_a_raw_byte():
    """codec.CodingStep measured by CostSide: the Krichevsky-Trofimov flag's bits, in the
    order coding updates it, plus exactly 8 bits for an escaped byte (a uniform byte CDF),
    or the token model's cost of a vocabulary token; and the encoder's side, given the
    same ids, writes what the decoder's side reads back."""
    import math

    from nacz.codec import CodingStep, CostSide, DecodeSide, EncodeSide, TokenModels, cdf_cost
    from nacz.coder import quantize_logits

    V = 100
    ids = np.array([5, 7, V + 0x41, 9, V + 0xFF, 3], dtype=np.int64)
    logits = np.zeros(V, dtype=np.float32)
    plain = CodecConfig(predictors=0)
    token_bits = cdf_cost(quantize_logits(logits, 1.0), 5)  # every token alike: uniform
    side = CostSide([ids])
    step = CodingStep(side, TokenModels(1, V, plain), 1)
    assert [step(0, logits, k) for k in range(len(ids))] == list(ids)
    escapes = 0
    for n, (t, bits) in enumerate(zip(ids, side.bits[0])):
        escaped = t >= V
        p_escape = (escapes + 0.5) / (n + 1)
        want = -math.log2(p_escape if escaped else 1 - p_escape) + (8.0 if escaped else
                                                                   token_bits)
        assert abs(bits - want) < 1e-3, (n, bits, want)
        escapes += escaped
    cdf = np.array([0, 1, 3, 4], dtype=np.int64)
    assert cdf_cost(cdf, 1) == 1.0 and cdf_cost(cdf, 0) == 2.0

    enc = EncodeSide([ids])
    coding = CodingStep(enc, TokenModels(1, V, plain), 1)
    for k in range(len(ids)):
        coding(0, logits, k)
    dec = DecodeSide(enc.payloads(), [len(ids)])
    decoding = CodingStep(dec, TokenModels(1, V, plain), 1)
    assert [decoding(0, logits, k) for k in range(len(ids))] == list(ids)
    assert np.array_equal(dec.ids[0], ids)


def test_compiled_entry_points_compute_what_the_dispatcher_computes():
    """Predictors calls its kernels through the entry point compiled for the argument
    types it saw first (nacz.predictors._CompiledCall); logits of another layout take
    their own entry. Same sequence, contiguous logits vs strided views of them, vs the
    dispatcher called directly: the same distributions, bit for bit."""
    from nacz.config import CodecConfig
    from nacz.predictors import Predictors, _predict, _update

    V = 512
    cfg = CodecConfig()
    a, b, c = Predictors(V, cfg), Predictors(V, cfg), Predictors(V, cfg)
    rng = np.random.default_rng(7)
    toks = rng.integers(0, V, 300)
    for i, t in enumerate(toks):
        logits = rng.standard_normal(V).astype(np.float32)
        wide = np.zeros(2 * V, dtype=np.float32)
        wide[::2] = logits
        pa = a.predict(logits).copy()
        pb = b.predict(logits if i % 2 else wide[::2]).copy()  # strided on even steps
        _predict(logits, c.out, c.state)
        assert np.array_equal(pa, pb) and np.array_equal(pa, c.out), i
        a.update(int(t))
        b.update(int(t))
        _update(int(t), logits, c.state)
    assert len(a._predict._entries) == 1 and len(b._predict._entries) == 2
