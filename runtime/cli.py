"""`python -m runtime`: run a build, answer questions, evaluate on SQuAD."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from compiler.errors import UserError

from .emulator.errors import EmulatorError


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UserError(f"{message} (see: python -m runtime --help)")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr)


def fixed_batch(batch: int, seq_len: int, vocab: int, seed: int = 0, type_vocab_size: int = 2) -> dict[str, torch.Tensor]:
    """A deterministic input batch with padding, so anyone can recompute the reference logits. The second quarter
    on is token type 1 where the model has a second segment (type_vocab_size > 1; RoBERTa has one)."""
    g = torch.Generator().manual_seed(seed)
    low = min(1000, vocab // 2)   # skip the special tokens at the bottom of BERT vocabularies
    ids = torch.randint(low, min(vocab, 30000), (batch, seq_len), generator=g)
    types = torch.zeros(batch, seq_len, dtype=torch.long)
    if type_vocab_size > 1:
        types[:, seq_len // 4:] = 1
    mask = torch.ones(batch, seq_len, dtype=torch.long)
    for b in range(1, batch):
        mask[b, seq_len - (b * seq_len) // (2 * batch):] = 0
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}


def _session(args):
    from .session import Session

    return Session(args.build_dir, model=args.model, device=args.device, log=_log,
                   allow_modified_program=args.allow_modified_program)


def _run(args) -> int:
    session = _session(args)
    m = session.build.manifest
    batch = fixed_batch(session.batch, session.seq_len, m["model"]["vocab_size"], type_vocab_size=session.type_vocab_size)
    t0 = time.perf_counter()
    if args.report:
        from . import report

        result, captured = report.capture_run(session, batch, Path(args.report))
    else:
        result = session.predict(**batch)
    elapsed = time.perf_counter() - t0
    peak = session.l1_peak_bytes_per_core()
    print(f"ran {m['model']['name']} on {session.backend.name} ({m['device']}, batch {session.batch}): "
          f"{elapsed:.2f} s, weights from {session.weight_stats['source']}"
          + (f", peak L1 {peak} B/core (compiler predicted {m['peak_l1_bytes_per_core']})" if peak is not None else ""))
    if args.dump_logits:
        out = Path(args.dump_logits)
        tmp = out.with_name(out.name + ".tmp.npz")
        outputs = (dict(start_logits=result[0].numpy(), end_logits=result[1].numpy()) if session.task == "qa" else
                   {("embeddings" if session.task == "embed" else "logits"): result.numpy()})
        np.savez(tmp, **outputs, **{k: v.numpy() for k, v in batch.items()})
        tmp.replace(out)
        print(f"logits and inputs -> {out}")
    session.close()
    if args.report:
        db = report.import_to_visualizer(captured, Path(args.report))
        n = report.summary(db)
        print(f"graph capture -> {captured}; ttnn-visualizer database -> {db} ({n['operations']} operations, "
              f"{n['tensors']} tensors, {n['buffers']} buffer rows; the CB plan per op in {Path(args.report) / 'l1_plan.json'})")
    return 0


def _tokenizer_dir(session, args) -> Path:
    d = getattr(session, "model_dir", None)
    if d is None or not (Path(d) / "tokenizer.json").is_file() and not (Path(d) / "vocab.txt").is_file():
        raise UserError(f"no tokenizer files next to the model weights ({d}); point --model at a checkpoint with its tokenizer")
    return Path(d)


def _demo(args) -> int:
    from .qa.app import run_demo

    session = _session(args)
    answers = run_demo(session.predict, _tokenizer_dir(session, args), args.inputs, session.batch, session.seq_len)
    for i, (question, answer) in enumerate(answers, 1):
        print(f"{i:2}. Q: {question}\n    A: {answer}")
    session.close()
    return 0


def _embed(args) -> int:
    from .embed import embed_sentences, load_sentences, similarity_table

    from .build_dir import load_build

    task = load_build(args.build_dir).manifest.get("task") or "qa"
    if task != "embed":
        raise UserError(f"{args.build_dir} is a {task} build; build with --task embed for sentence embeddings")
    sentences = load_sentences(args.inputs)      # bad input is refused before any weights load
    session = _session(args)
    vectors = embed_sentences(session.predict, _tokenizer_dir(session, args), sentences, session.batch, session.seq_len,
                              type_vocab_size=session.build.manifest["model"].get("type_vocab_size") or 2)
    print(f"{len(sentences)} sentences -> {vectors.shape[1]}-dim embeddings ({session.build.manifest['head']['mode']} "
          f"pooling{', L2-normalised' if session.build.manifest['head']['normalize'] else ''}) on {session.backend.name}")
    for i, (s, v) in enumerate(zip(sentences, vectors), 1):
        head = " ".join(f"{x:+.4f}" for x in v[:args.dims].tolist())
        print(f"{i:3}. [{head} ...] |v|={v.norm():.4f}  {s[:60]}")
    print()
    print(similarity_table(vectors))
    session.close()
    return 0


def _squad(args) -> int:
    from .qa.app import hf_reference_predict
    from .qa.stream import evaluate_squad

    session = _session(args)
    tok = _tokenizer_dir(session, args)
    if args.samples is not None and args.samples <= 0:
        raise UserError(f"--samples {args.samples}: give a positive number of questions")
    answers = args.answers
    if answers is None:   # default: beside the build, one file per data file and question count
        stem = Path(args.data).stem + (f"-{args.samples}" if args.samples else "")
        answers = str(Path(args.build_dir) / f"squad_answers-{stem}.jsonl")
    meta = {"build": str(Path(args.build_dir).resolve()), "model": args.model, "device": session.backend.name,
            "samples": args.samples}
    try:
        result = evaluate_squad(session.predict, tok, args.data, session.batch, samples=args.samples,
                                reference_predict=hf_reference_predict(tok), answers_path=answers, meta=meta,
                                progress=True)
    except ValueError as exc:
        from .qa.errors import QAInputError

        if isinstance(exc, QAInputError):
            raise
        raise UserError(str(exc)) from exc
    _log(f"answers: {answers} (an interrupted run resumes from it)")
    print(f"{'':10} {'exact':>8} {'f1':>8}")
    print(f"{'compiled':10} {result['exact']:8.2f} {result['f1']:8.2f}")
    print(f"{'HF fp32':10} {result['ref_exact']:8.2f} {result['ref_f1']:8.2f}")
    print(f"{'diff':10} {result['exact'] - result['ref_exact']:8.2f} {result['f1'] - result['ref_f1']:8.2f}"
          f"   ({result['samples']} questions)")
    if args.json:
        print(json.dumps({k: result[k] for k in ("exact", "f1", "ref_exact", "ref_f1", "samples", "seconds",
                                                  "resumed")}))
    session.close()
    return 0


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m runtime", description="Run compiled TT-NN BERT programs.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    def common(sp):
        sp.add_argument("build_dir", metavar="BUILD_DIR",
                        help="directory written by `python -m compiler build` (program.py + manifest.json); running it "
                             "executes its program.py")
        sp.add_argument("--model", help="checkpoint directory or HF id in the local cache (default: the build's model)")
        sp.add_argument("--device", choices=("auto", "ttnn", "emulator"), default="auto",
                        help="where to run: a Tenstorrent chip through ttnn, the host emulator, or auto (the chip when "
                             "ttnn finds one, else the emulator; default auto)")
        sp.add_argument("--allow-modified-program", action="store_true",
                        help="run program.py even though it differs from the sha256 recorded in manifest.json at "
                             "build time (only for a program you edited yourself)")

    r = sub.add_parser("run", help="run the program on a fixed deterministic batch")
    common(r)
    r.add_argument("--dump-logits", metavar="OUT.npz", help="also write the start/end logits and the input batch to OUT.npz")
    r.add_argument("--report", metavar="DIR", help="write the emulator run as a ttnn graph-capture report and a "
                                                   "ttnn-visualizer database (DIR/db.sqlite; needs .venv-ttnn)")
    r.set_defaults(func=_run)
    d = sub.add_parser("demo", help="answer the questions of an inputs JSON (exactly batch of them)")
    common(d)
    d.add_argument("--inputs", help="JSON list of {question, context} (default: the shipped 12 questions)")
    d.set_defaults(func=_demo)
    e = sub.add_parser("embed", help="sentence embeddings of an inputs JSON and their cosine-similarity table")
    common(e)
    e.add_argument("--inputs", help="JSON list of sentences (default: the shipped 8 sentences)")
    e.add_argument("--dims", type=int, default=6, help="embedding values printed per sentence (default 6)")
    e.set_defaults(func=_embed)
    s = sub.add_parser("squad", help="exact match / F1 on a SQuAD v1.1 or v2.0 file, beside HF fp32")
    common(s)
    s.add_argument("--data", required=True, metavar="SQUAD.json", help="SQuAD v1.1 or v2.0 JSON file (e.g. dev-v1.1.json)")
    s.add_argument("--samples", type=int, metavar="N", help="evaluate only the first N questions of the file (default: all)")
    s.add_argument("--json", action="store_true", help="last line: a JSON object of the scores")
    s.add_argument("--answers", metavar="FILE.jsonl",
                   help="answers so far, appended per batch; a rerun resumes from them "
                        "(default: BUILD/squad_answers-<data>[-<samples>].jsonl)")
    s.set_defaults(func=_squad)
    return p


def main(argv=None) -> int:
    from .qa.errors import NonFiniteLogits, QAInputError

    try:
        args = parser().parse_args(argv)
        if not getattr(args, "command", None):
            raise UserError("missing command; use one of: run, demo, embed, squad (see python -m runtime --help)")
        return args.func(args)
    except (UserError, QAInputError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except NonFiniteLogits as e:
        print(f"error: {e}; the program's arithmetic overflowed: compare with HF fp32 (python -m runtime squad) or "
              f"rebuild with wider dtypes", file=sys.stderr)
        return 1
    except EmulatorError as e:
        print(f"error: the program failed on the emulator as it would on the device: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
