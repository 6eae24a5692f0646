"""Build time of bert-large `build --arch wh --batch 7` divided by a bare torch.export of the same model.

Both are measured in this one process, alternating, best of N each, after imports are warm (both
pay the same interpreter start-up outside the timed region). Target: <= 1.5. Last line: the ratio.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compiler.build import compile_model, write_build  # noqa: E402
from compiler.model_source import resolve_model  # noqa: E402
from compiler.schedule import find_device  # noqa: E402
from compiler.trace import build_meta_model, export_model  # noqa: E402


def bare_export() -> float:
    t = time.perf_counter()
    model = build_meta_model(resolve_model(None).bert_config())
    export_model(model, 7, 384)
    return time.perf_counter() - t


def our_build(out: Path) -> float:
    t = time.perf_counter()
    result = compile_model(batch=7, device=find_device("wormhole_n300"))
    write_build(result, out)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    bare_export()  # warm lazy imports inside transformers/torch.export for both sides
    exports, builds = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            exports.append(bare_export())
            builds.append(our_build(Path(tmp) / "build"))
    e, b = min(exports), min(builds)
    print(f"bare torch.export bert-large b7: best {e:.2f} s of {[round(x, 2) for x in exports]}")
    print(f"compiler build --arch wh --batch 7: best {b:.2f} s of {[round(x, 2) for x in builds]}")
    print(f"build / export = {b / e:.3f}")


if __name__ == "__main__":
    main()
