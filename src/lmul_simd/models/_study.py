"""The rows of the study and its two measurements."""
import contextlib
import re
from dataclasses import dataclass

import numpy as np
import torch

import lmul_simd.torch as lt

from ._emulation import emulate

KS = (23, 4, 3)


@dataclass(frozen=True)
class Setting:
    """One row: L-Mul in `scope` with k bits, or emulation of format `fmt`."""
    label: str
    scope: str = None        # "attention" or "all" (L-Mul); None: exact or emulated
    k: int = None
    fmt: str = None          # "e4m3fn", "e5m2", "bfloat16" (emulated products)


ROWS = (Setting("exact float32"),
        *(Setting(f"L-Mul attention k={k}", "attention", k) for k in KS),
        *(Setting(f"L-Mul everywhere k={k}", "all", k) for k in KS),
        Setting("float8 e4m3fn everywhere (emulated)", fmt="e4m3fn"),
        Setting("float8 e5m2 everywhere (emulated)", fmt="e5m2"),
        Setting("bfloat16 everywhere (emulated)", fmt="bfloat16"))


@contextlib.contextmanager
def applied(model, setting):
    """The model with the row's products, restored afterwards."""
    if setting.fmt is not None:
        emulate(model, setting.fmt)
    elif setting.scope is not None:
        lt.patch(model, setting.scope, setting.k)
    try:
        with torch.no_grad():
            yield model
    finally:
        lt.unpatch(model)


# --- offline English text ----------------------------------------------------------

def english_text():
    """Python's own documentation (pydoc_data.topics ships with CPython):
    English prose with code, the same on every machine of one Python."""
    try:
        from pydoc_data.topics import topics
    except ImportError as error:
        raise RuntimeError("this Python has no pydoc_data (its documentation topics), "
                           "the study's offline English text") from error
    return "\n\n".join(topics[name] for name in sorted(topics))


def sentences(count, text=None):
    """`count` prose sentences (8 to 40 words, no code) of the text, in order."""
    text = english_text() if text is None else text
    found = []
    for candidate in re.split(r"(?<=[.!?])\s+", re.sub(r"\s+", " ", text)):
        words = candidate.split()
        if 8 <= len(words) <= 40 and candidate[0].isupper() and \
                not re.search(r"[(){}\[\]=<>*_`|\\]|\.\.\.|>>>", candidate):
            found.append(candidate)
            if len(found) == count:
                return found
    raise ValueError(f"the text has only {len(found)} usable sentences, {count} asked")


# --- measurements ----------------------------------------------------------------------

def sentence_embeddings(model, batch):
    """Mean-pooled, L2-normalised last hidden states (all-MiniLM-L6-v2's pooling)."""
    hidden = model(input_ids=batch["input_ids"],
                   attention_mask=batch["attention_mask"]).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
    return torch.nn.functional.normalize(pooled, dim=-1)


def spearman(x, y):
    """Spearman's rank correlation (ranks by order; ties are improbable here)."""
    rx, ry = (np.argsort(np.argsort(v)).astype(np.float64) for v in (x, y))
    return float(np.corrcoef(rx, ry)[0, 1])


def encoder_row(exact, approx):
    """Cosine similarity of each sentence's embedding to the exact one, and the
    rank correlation of all pair similarities with the exact ones."""
    cos = (exact * approx).sum(-1).numpy()
    pairs = np.triu_indices(len(exact), 1)
    sims = [(e @ e.T).numpy()[pairs] for e in (exact, approx)]
    finite = bool(np.isfinite(approx.numpy()).all())
    return {"cosine_mean": float(cos.mean()), "cosine_min": float(cos.min()),
            "spearman": spearman(*sims) if finite else float("nan"), "finite": finite}


def perplexity(model, windows):
    """exp of the mean next-token negative log-likelihood over the windows."""
    logits = model(input_ids=windows).logits[:, :-1].float()
    nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                            windows[:, 1:].reshape(-1))
    return float(torch.exp(nll)), float(nll)


def token_windows(tokenizer, count, length, text=None):
    ids = tokenizer.encode(english_text() if text is None else text)
    if len(ids) < count * length:
        raise ValueError(f"the text has {len(ids)} tokens, {count} x {length} asked")
    return torch.tensor(ids[:count * length]).reshape(count, length)


def encoder_study(model, tokenizer, texts, rows=ROWS, progress=None):
    batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    results, exact = [], None
    for setting in rows:
        with applied(model, setting):
            embeddings = sentence_embeddings(model, batch)
        exact = embeddings if exact is None else exact
        results.append({"row": setting.label, **encoder_row(exact, embeddings)})
        if progress:
            progress.step(f"encoder: {setting.label}")
    return results


def decoder_study(model, windows, rows=ROWS, progress=None):
    results, exact = [], None
    for setting in rows:
        with applied(model, setting):
            ppl, nll = perplexity(model, windows)
        exact = ppl if exact is None else exact
        results.append({"row": setting.label, "perplexity": ppl, "nll": nll,
                        "ratio_to_exact": ppl / exact})
        if progress:
            progress.step(f"decoder: {setting.label}")
    return results
