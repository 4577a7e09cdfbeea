"""lmul_simd.torch: bits equal lmul_simd's NumPy calls, gradients equal the
exact product's, layers and patch/unpatch on tiny transformers models."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (the torch extra)")
transformers = pytest.importorskip("transformers", reason="transformers is not installed")

import ml_dtypes  # noqa: E402

import lmul_simd  # noqa: E402
import lmul_simd.torch as lt  # noqa: E402
from lmul_simd.torch._tensors import as_numpy  # noqa: E402
from test_elementwise_exact import assert_same_bits  # noqa: E402

F = torch.nn.functional


def randn(*shape, dtype=torch.float32, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).to(dtype)


def exact_mantissa(*shape, seed=0):
    """Values +-1.25 * 2^e: the mantissa product 1/16 is L-Mul's own term
    2^-l(k) for k > 4, so every L-Mul product of them is the exact product."""
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], size=shape)
    return torch.from_numpy((signs * 1.25 * 2.0 ** rng.integers(-3, 3, size=shape)).astype(np.float32))


def numpy_of(t):
    return as_numpy(t).copy()


# --- functions -------------------------------------------------------------------

@pytest.mark.parametrize("k", [None, 3])
@pytest.mark.parametrize("shapes", [((5, 7), (7, 4)), ((2, 1, 5, 7), (3, 7, 4)), ((7,), (2, 7, 3))])
def test_matmul_bits_equal_lmul_simd(shapes, k):
    a, b = randn(*shapes[0]), randn(*shapes[1], seed=1)
    product = lmul_simd.matmul if k is None else lmul_simd.matmul_k(k)
    got = lt.matmul(a, b, k)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32
    assert_same_bits(got.numpy(), product(a.numpy(), b.numpy()))


@pytest.mark.parametrize("dtype, result", [
    (torch.bfloat16, torch.bfloat16), (torch.float16, torch.float16),
    (torch.float64, torch.float64), (torch.float8_e4m3fn, torch.float32),
    (torch.float8_e5m2, torch.float32)])
def test_matmul_formats(dtype, result):
    a, b = randn(4, 6, dtype=dtype), randn(6, 3, dtype=dtype, seed=1)
    got = lt.matmul(a, b)
    assert got.dtype == result
    assert_same_bits(numpy_of(got), lmul_simd.matmul(as_numpy(a), as_numpy(b)))


def test_cpu_tensors_are_read_in_place():
    for t in (randn(6, 4).t(), randn(3, 4, dtype=torch.bfloat16)[:, ::2]):
        view = as_numpy(t)
        assert view.__array_interface__["data"][0] == t.data_ptr()
        assert view.strides == tuple(s * t.element_size() for s in t.stride())
    assert as_numpy(randn(2, 2, dtype=torch.bfloat16)).dtype == ml_dtypes.bfloat16


def test_bad_tensors_raise():
    with pytest.raises(TypeError):
        lt.matmul(torch.ones(2, 2, dtype=torch.int32), torch.ones(2, 2, dtype=torch.int32))
    with pytest.raises(TypeError):
        lt.matmul(np.ones((2, 2), np.float32), torch.ones(2, 2))
    with pytest.raises(ValueError):
        lt.matmul(torch.ones(2, 2, device="meta"), torch.ones(2, 2, device="meta"))
    with pytest.raises(ValueError):
        lt.matmul(torch.ones(2, 3), torch.ones(2, 3))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU for torch here")
def test_cuda_tensors_through_lmul_simd_cuda():
    from lmul_simd import cuda as lcuda
    if not lcuda.is_available():
        pytest.skip(lcuda.unavailable_reason())
    a, b = randn(2, 33, 17), randn(17, 9, seed=1)
    got = lt.matmul(a.cuda(), b.cuda())
    assert got.device.type == "cuda" and got.dtype == torch.float32
    want = lmul_simd.matmul(a.numpy(), b.numpy())
    np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-5, atol=1e-5)


def test_matmul_gradient_is_the_exact_products():
    a, b = randn(2, 5, 7).requires_grad_(), randn(7, 4, seed=1).requires_grad_()
    g = randn(2, 5, 4, seed=2)
    lt.matmul(a, b, k=3).backward(g)
    a2, b2 = a.detach().clone().requires_grad_(), b.detach().clone().requires_grad_()
    torch.matmul(a2, b2).backward(g)
    assert torch.equal(a.grad, a2.grad) and torch.equal(b.grad, b2.grad)


def test_linear_bits_and_gradients():
    x, w, bias = randn(2, 3, 8).requires_grad_(), randn(5, 8, seed=1).requires_grad_(), \
        randn(5, seed=2).requires_grad_()
    got = lt.linear(x, w, bias, k=4)
    want = lmul_simd.matmul_k(4)(x.detach().numpy().reshape(6, 8), w.detach().numpy().T)
    assert_same_bits(got.detach().numpy(), (torch.from_numpy(want) + bias.detach()).reshape(2, 3, 5).numpy())
    g = randn(2, 3, 5, seed=3)
    got.backward(g)
    leaves = [t.detach().clone().requires_grad_() for t in (x, w, bias)]
    F.linear(*leaves).backward(g)
    for t, exact in zip((x, w, bias), leaves):
        assert torch.equal(t.grad, exact.grad)


def test_linear_equals_torch_on_exactly_multiplied_values():
    x, w, bias = exact_mantissa(4, 16), exact_mantissa(8, 16, seed=1), randn(8)
    torch.testing.assert_close(lt.linear(x, w, bias), F.linear(x, w, bias), rtol=1e-6, atol=1e-6)


# --- layers ------------------------------------------------------------------------

def test_linear_layer_is_a_drop_in_nn_linear():
    exact = torch.nn.Linear(16, 8)
    layer = lt.Linear.from_linear(exact, k=3)
    assert isinstance(layer, torch.nn.Linear) and layer.k == 3
    assert layer.weight is exact.weight and layer.bias is exact.bias
    assert list(layer.state_dict()) == list(exact.state_dict())
    x = randn(4, 16)
    assert_same_bits(layer(x).detach().numpy(), lt.linear(x, exact.weight, exact.bias, 3).detach().numpy())
    fresh = lt.Linear(16, 8, bias=False, k=4)
    assert fresh.bias is None and fresh(x).shape == (4, 8)
    with pytest.raises(TypeError):
        lt.Linear.from_linear(torch.nn.Conv2d(1, 1, 1))


@pytest.mark.parametrize("kwargs", [
    dict(), dict(stride=2, padding=1), dict(dilation=2, padding=2, groups=2),
    dict(padding="same", padding_mode="reflect"), dict(padding=1, padding_mode="circular", bias=False)])
def test_conv2d_by_im2col_equals_torch_on_exactly_multiplied_values(kwargs):
    exact = torch.nn.Conv2d(4, 6, 3, **kwargs)
    with torch.no_grad():
        exact.weight.copy_(exact_mantissa(*exact.weight.shape, seed=1))
    layer = lt.Conv2d.from_conv2d(exact)
    x = exact_mantissa(2, 4, 9, 8)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), exact(x), rtol=1e-6, atol=1e-6)


def test_conv2d_gradient_is_the_exact_convolutions():
    exact = torch.nn.Conv2d(3, 4, 3, padding=1)
    layer = lt.Conv2d.from_conv2d(exact, k=3)
    x = randn(2, 3, 6, 6).requires_grad_()
    x2 = x.detach().clone().requires_grad_()
    g = randn(2, 4, 6, 6, seed=1)
    layer(x).backward(g)
    grads = [exact.weight.grad.clone(), exact.bias.grad.clone(), x.grad]
    exact.zero_grad()
    exact(x2).backward(g)
    torch.testing.assert_close(grads, [exact.weight.grad, exact.bias.grad, x2.grad])


# --- attention -----------------------------------------------------------------------

def test_sdpa_bits_equal_lmul_simd_attention():
    q, k, v = randn(2, 4, 5, 8), randn(2, 2, 7, 8, seed=1), randn(2, 2, 7, 8, seed=2)
    mask = randn(5, 7, seed=3) > -0.5
    got = lt.scaled_dot_product_attention(q, k, v, attn_mask=mask, k=4)
    want = lmul_simd.attention(q.numpy(), k.numpy(), v.numpy(), mask=mask.numpy(), mantissa_bits=4)
    assert_same_bits(got.numpy(), want)
    half = [t.to(torch.bfloat16) for t in (q, k, v)]
    got = lt.scaled_dot_product_attention(*half, is_causal=True)
    assert got.dtype == torch.bfloat16
    assert_same_bits(numpy_of(got), lmul_simd.attention(*map(as_numpy, half), is_causal=True))


def test_sdpa_gradient_is_exact_sdpas():
    leaves = [randn(2, 4, 5, 8, seed=s).requires_grad_() for s in range(3)]
    g = randn(2, 4, 5, 8, seed=4)
    lt.scaled_dot_product_attention(*leaves, is_causal=True, k=3).backward(g)
    exact = [t.detach().clone().requires_grad_() for t in leaves]
    F.scaled_dot_product_attention(*exact, is_causal=True).backward(g)
    for t, e in zip(leaves, exact):
        assert torch.equal(t.grad, e.grad)
    with pytest.raises(NotImplementedError):
        lt.scaled_dot_product_attention(*leaves, dropout_p=0.1)


def test_patched_sdpa_restores_torch():
    exact = F.scaled_dot_product_attention
    q = randn(1, 2, 3, 4)
    with lt.patched_sdpa(k=3):
        assert F.scaled_dot_product_attention is not exact
        got = F.scaled_dot_product_attention(q, q, q)
    assert F.scaled_dot_product_attention is exact
    assert_same_bits(got.numpy(), lmul_simd.attention(q.numpy(), q.numpy(), q.numpy(), mantissa_bits=3))


# --- patch / unpatch on tiny models -----------------------------------------------

def tiny_bert():
    torch.manual_seed(0)
    config = transformers.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                     intermediate_size=64, vocab_size=100, max_position_embeddings=64)
    return transformers.BertModel(config).eval()


def tiny_llama():
    torch.manual_seed(0)
    config = transformers.LlamaConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                      num_key_value_heads=2, intermediate_size=64, vocab_size=100,
                                      tie_word_embeddings=True)
    return transformers.LlamaForCausalLM(config).eval()


def inputs():
    ids = torch.randint(0, 100, (2, 10), generator=torch.Generator().manual_seed(1))
    mask = torch.ones(2, 10, dtype=torch.long)
    mask[1, 7:] = 0
    return ids, mask


def sentence_embeddings(model):
    ids, mask = inputs()
    with torch.no_grad():
        hidden = model(ids, attention_mask=mask).last_hidden_state
    m = mask.unsqueeze(-1).float()
    return (hidden * m).sum(1) / m.sum(1)


def logits(model):
    ids, mask = inputs()
    with torch.no_grad():
        return model(ids, attention_mask=mask).logits[mask.bool()]


def cosine(a, b):
    return F.cosine_similarity(a, b, dim=-1).min().item()


@pytest.mark.parametrize("scope", lt.SCOPES)
def test_patch_encoder(scope):
    model = tiny_bert()
    exact = sentence_embeddings(model)
    n_linear = sum(type(m) is torch.nn.Linear for m in model.modules())
    assert lt.patch(model, scope, k=4) is model
    if scope != "attention":
        assert sum(isinstance(m, lt.Linear) for m in model.modules()) == n_linear
        assert not any(type(m) is torch.nn.Linear for m in model.modules())
    if scope != "linear":
        assert model.config._attn_implementation == lt.attention_implementation(4)
    patched = sentence_embeddings(model)
    assert torch.isfinite(patched).all() and not torch.equal(patched, exact)
    assert cosine(patched, exact) >= (0.999 if scope == "attention" else 0.99)
    lt.unpatch(model)
    assert torch.equal(sentence_embeddings(model), exact)
    assert model.config._attn_implementation == "sdpa"


@pytest.mark.parametrize("scope", lt.SCOPES)
def test_patch_decoder_with_grouped_query_attention(scope):
    model = tiny_llama()
    exact = logits(model)
    lt.patch(model, scope)
    patched = logits(model)
    assert torch.isfinite(patched).all() and not torch.equal(patched, exact)
    assert cosine(patched, exact) >= 0.99
    assert model.lm_head.weight is model.model.embed_tokens.weight   # ties kept
    lt.unpatch(model)
    assert torch.equal(logits(model), exact)


def test_patched_model_trains_with_exact_gradients_per_layer():
    model = tiny_llama().train()
    lt.patch(model, "all", k=3)
    ids, _ = inputs()
    model(ids, labels=ids).loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_patch_twice_and_bad_arguments():
    model = tiny_bert()
    exact = sentence_embeddings(model)
    lt.patch(model, "linear", k=3)
    lt.patch(model, "linear", k=4)           # patched anew, not stacked
    assert all(m.k == 4 for m in model.modules() if isinstance(m, lt.Linear))
    assert all(type(lt._modules.original(m)) is torch.nn.Linear
               for m in model.modules() if isinstance(m, lt.Linear))
    lt.unpatch(model)
    assert torch.equal(sentence_embeddings(model), exact)
    with pytest.raises(ValueError):
        lt.patch(model, "everything")
    with pytest.raises(TypeError):
        lt.patch(torch.nn.Sequential(torch.nn.Linear(2, 2)), "attention")
    plain = lt.patch(torch.nn.Sequential(torch.nn.Linear(2, 2)), "linear")
    assert isinstance(plain[0], lt.Linear)


def test_patched_decoder_with_a_cache_matches_its_full_forward():
    """Decoding one token against cached keys (q length 1, grouped heads)
    gives the logits of the full causal forward pass of the patched model."""
    model = lt.patch(tiny_llama(), "attention", k=4)
    ids, _ = inputs()
    with torch.no_grad():
        full = model(ids).logits[:, -1]
        cache = transformers.DynamicCache()
        # positional: transformers renamed the argument (past_key_values -> cache)
        model(ids[:, :-1], None, None, cache, use_cache=True)
        step = model(ids[:, -1:], None, None, cache, use_cache=True).logits[:, -1]
    torch.testing.assert_close(step, full, rtol=1e-4, atol=1e-5)
