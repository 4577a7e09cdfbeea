"""python -m lmul_simd.models: L-Mul in a pretrained encoder and causal LM.
See ``python -m lmul_simd.models --help``."""
import argparse
import json
import sys
import time

import lmul_simd
from lmul_simd._report.progress import Progress

from . import _study, _weights


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m lmul_simd.models", description=__doc__)
    p.add_argument("--only", choices=("encoder", "decoder"), help="one model only")
    p.add_argument("--sentences", type=int, default=64, help="encoder sentences (64)")
    p.add_argument("--windows", type=int, default=4, help="LM text windows (4)")
    p.add_argument("--tokens", type=int, default=128, help="tokens per LM window (128)")
    p.add_argument("--quick", action="store_true", help="16 sentences, 2 windows of 64 tokens")
    p.add_argument("--tiny", action="store_true",
                   help="random tiny models instead of the pretrained ones (a smoke test)")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON")
    args = p.parse_args(argv)
    if args.quick:
        args.sentences, args.windows, args.tokens = 16, 2, 64
    return args


def run(args, progress):
    import torch
    import transformers
    results = {"isa": lmul_simd.get_isa(), "backend": lmul_simd.backend,
               "torch": torch.__version__, "transformers": transformers.__version__,
               "text": "Python's documentation topics (pydoc_data.topics)"}
    if args.only != "decoder":
        model, tokenizer, name = (_weights.tiny_encoder if args.tiny else _weights.load_encoder)()
        texts = _study.sentences(args.sentences)
        results["encoder"] = {"model": name, "sentences": len(texts),
                              "rows": _study.encoder_study(model, tokenizer, texts,
                                                           progress=progress)}
    if args.only != "encoder":
        model, tokenizer, name = (_weights.tiny_decoder if args.tiny else _weights.load_decoder)()
        windows = _study.token_windows(tokenizer, args.windows, args.tokens)
        results["decoder"] = {"model": name, "windows": args.windows, "tokens": args.tokens,
                              "rows": _study.decoder_study(model, windows, progress=progress)}
    return results


def table(results):
    lines = []
    if "encoder" in results:
        e = results["encoder"]
        lines += [f"encoder: {e['model']}, {e['sentences']} sentences",
                  f"  {'row':<38} {'cos mean':>9} {'cos min':>9} {'spearman':>9}"]
        lines += [f"  {r['row']:<38} {r['cosine_mean']:9.5f} {r['cosine_min']:9.5f} "
                  f"{r['spearman']:9.5f}" for r in e["rows"]]
    if "decoder" in results:
        d = results["decoder"]
        lines += [f"causal LM: {d['model']}, {d['windows']} x {d['tokens']} tokens",
                  f"  {'row':<38} {'perplexity':>10} {'/ exact':>8}"]
        lines += [f"  {r['row']:<38} {r['perplexity']:10.3f} {r['ratio_to_exact']:8.4f}"
                  for r in d["rows"]]
    return "\n".join(lines)


def main(argv=None):
    args = parse(argv)
    start = time.perf_counter()
    models = 1 if args.only else 2
    progress = Progress(models * len(_study.ROWS))
    try:
        results = run(args, progress)
    except _weights.WeightsMissing as error:
        progress.close()
        print(f"python -m lmul_simd.models: {error} (or use --tiny)", file=sys.stderr)
        return 2
    progress.close()
    results["wall_s"] = time.perf_counter() - start
    print(table(results))
    print(f"wall time {results['wall_s']:.1f} s (ISA {results['isa']})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
