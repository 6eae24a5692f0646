"""Issue 5 acceptance: SQuAD v1.1 dev on the emulator for the three seed schedules vs HF fp32, same weights.

Builds minilm-l6-squad1 for GS E150 b12, WH N300 b7 and WH N300 b8 (eth dispatch), evaluates the
first N questions (default 1000) on each, and prints exact/F1 beside HF fp32 (computed once: the
reference does not depend on the schedule). Last line: JSON of all figures.
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler.build import compile_model, write_build  # noqa: E402
from compiler.schedule import find_device  # noqa: E402
from runtime.qa.app import hf_reference_predict, run_squad  # noqa: E402
from runtime.session import Session  # noqa: E402

TARGETS = [("grayskull_e150", 12), ("wormhole_n300", 7), ("wormhole_n300_eth", 8)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "squad-dev-v1.1.json"))
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--model", default=str(ROOT / "models" / "minilm-l6-squad1"))
    args = ap.parse_args()
    results = {}
    reference = None
    with tempfile.TemporaryDirectory() as tmp:
        for device, batch in TARGETS:
            out = Path(tmp) / f"{device}-b{batch}"
            write_build(compile_model(batch=batch, device=find_device(device), model=args.model), out)
            with Session(out, model=args.model, device="emulator", log=lambda m: None) as session:
                t = time.perf_counter()
                r = run_squad(session.predict, args.model, args.data, batch, samples=args.samples,
                              reference_predict=None if reference else hf_reference_predict(args.model))
                if reference is None:
                    reference = (r["ref_exact"], r["ref_f1"])
                r["ref_exact"], r["ref_f1"] = reference
                results[f"{device}-b{batch}"] = {k: r[k] for k in ("exact", "f1", "ref_exact", "ref_f1", "samples")}
                print(f"{device} b{batch}: exact {r['exact']:.2f} f1 {r['f1']:.2f} | HF fp32 exact {reference[0]:.2f} "
                      f"f1 {reference[1]:.2f} | diff {r['exact'] - reference[0]:+.2f} / {r['f1'] - reference[1]:+.2f} "
                      f"({r['samples']} questions, {time.perf_counter() - t:.0f} s)", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
