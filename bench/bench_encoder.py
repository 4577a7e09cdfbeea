"""End to end: a transformer encoder's forward pass in NumPy with every matrix
product through lmul_simd, against the same code on numpy.matmul.

The encoder is sized as MiniLM-L12-H384 (12 layers, hidden 384, 12 heads of
32, feed-forward 1536, post-layer-norm, GELU), with random weights from a
fixed seed; layer norm, GELU and softmax are float32 NumPy in both runs. On
the lmul_simd side the weights are packed once (lmul_simd.pack) and the
attention products are batched over the heads. One sequence of 16 tokens and
one of 256.

    python -m pytest bench/bench_encoder.py --benchmark-only \\
        --benchmark-columns=median --benchmark-json=bench/results/encoder.json

extra_info holds ratio_vs_numpy, numpy's median time over lmul_simd's (measured in
blocks, bench/ratios.py); the issue's goal is lmul_simd within 1.25x of NumPy, a ratio
>= 0.8. It also holds how far the L-Mul output is from the exact one
(relative Frobenius norm). No timing is asserted.
"""
import numpy as np
import pytest

import lmul_simd
from bench_packed import LEVELS, THREADS, threads
from ratios import compare

LAYERS, HIDDEN, HEADS, FFN = 12, 384, 12, 1536
HEAD = HIDDEN // HEADS


def make_weights(seed=0):
    rng = np.random.default_rng(seed)

    def dense(n_in, n_out):
        return (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(np.float32)

    def bias(n):
        return (0.02 * rng.standard_normal(n)).astype(np.float32)

    return [dict(qkv=dense(HIDDEN, 3 * HIDDEN), qkv_b=bias(3 * HIDDEN),
                 out=dense(HIDDEN, HIDDEN), out_b=bias(HIDDEN),
                 up=dense(HIDDEN, FFN), up_b=bias(FFN),
                 down=dense(FFN, HIDDEN), down_b=bias(HIDDEN),
                 ln1=(np.ones(HIDDEN, np.float32), bias(HIDDEN)),
                 ln2=(np.ones(HIDDEN, np.float32), bias(HIDDEN)))
            for _ in range(LAYERS)]


def layer_norm(x, scale_shift, eps=np.float32(1e-12)):
    scale, shift = scale_shift
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * scale + shift


def gelu(x):
    c = np.float32(np.sqrt(2 / np.pi))
    return np.float32(0.5) * x * (1 + np.tanh(c * (x + np.float32(0.044715) * x ** 3)))


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def forward(x, layers, matmul):
    """x: (tokens, HIDDEN) float32; matmul: numpy.matmul or lmul_simd.matmul
    (the weights packed for the latter)."""
    tokens = x.shape[0]
    scale = np.float32(1 / np.sqrt(HEAD))
    for w in layers:
        qkv = matmul(x, w["qkv"]) + w["qkv_b"]
        q, k, v = qkv.reshape(tokens, 3, HEADS, HEAD).transpose(1, 2, 0, 3)
        scores = matmul(q, k.transpose(0, 2, 1)) * scale       # heads x tokens x tokens
        context = matmul(softmax(scores), v).transpose(1, 0, 2).reshape(tokens, HIDDEN)
        x = layer_norm(x + matmul(context, w["out"]) + w["out_b"], w["ln1"])
        hidden = gelu(matmul(x, w["up"]) + w["up_b"])
        x = layer_norm(x + matmul(hidden, w["down"]) + w["down_b"], w["ln2"])
    return x


def packed(layers):
    return [{name: lmul_simd.pack(value) if name in ("qkv", "out", "up", "down")
             else value for name, value in w.items()} for w in layers]


@pytest.fixture(scope="module")
def weights():
    return make_weights()


@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("isa", LEVELS)
@pytest.mark.parametrize("tokens", [16, 256])
def test_encoder_forward(benchmark, weights, isa, tokens, n_threads):
    x = np.random.default_rng(1).standard_normal((tokens, HIDDEN)).astype(np.float32)
    with lmul_simd.use_isa(isa), threads(n_threads):
        lmul_layers = packed(weights)
        lmul_out = forward(x, lmul_layers, lmul_simd.matmul)
        comparison = compare(lambda: forward(x, weights, np.matmul),
                             lambda: forward(x, lmul_layers, lmul_simd.matmul),
                             rounds=5, calls=9 if tokens <= 16 else 3)
        benchmark.pedantic(forward, (x, lmul_layers, lmul_simd.matmul), rounds=3)
    exact = forward(x, weights, np.matmul)
    benchmark.extra_info.update(
        isa=isa, native=lmul_simd.best_isa(), tokens=tokens,
        model="MiniLM-L12-H384 sized, random weights",
        threads=n_threads, **comparison.info(), goal=0.8,
        relative_difference=float(np.linalg.norm(lmul_out - exact) / np.linalg.norm(exact)))
