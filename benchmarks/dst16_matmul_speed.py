"""The 16-bit-Dst matmul alone, measured in one run on the same CPU and threads: the compiled kernel
(runtime/emulator/ttnn/dst16_kernel.py) against the per-MVMUL bfloat16 ``addmm`` loop it replaced (kept in
dst16_matmul.accumulate as the no-numba fallback) and against one float32 GEMM of the same size (what HF's
forward spends on that matmul).  Prints wall and CPU-time ratios and whether the kernel's bits equal the loop's.

    python benchmarks/dst16_matmul_speed.py [--m 2688 --k 1024 --n 1024] [--phases 1]
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import runtime  # noqa: E402,F401  (first: the OpenMP wait policy, runtime/omp_wait.py)
import torch  # noqa: E402

from runtime.emulator import formats  # noqa: E402
from runtime.emulator.ttnn import dst16_matmul  # noqa: E402


def timed(fn, repeats: int):
    best_wall, best_cpu, out = float("inf"), float("inf"), None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        best_wall, best_cpu = min(best_wall, time.perf_counter() - t), min(best_cpu, time.process_time() - c)
    return best_wall, best_cpu, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--m", type=int, default=2688, help="rows (bert-large WH b7: 7 x 384)")
    ap.add_argument("--k", type=int, default=1024)
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--phases", type=int, default=1, help="fidelity phases (1 LoFi ... 4 HiFi4)")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    g = torch.Generator().manual_seed(0)
    a = formats.exact_quantize_block_float(torch.randn(args.m, args.k, generator=g), 7)   # bfloat8_b values
    w = formats.exact_quantize_block_float(torch.randn(args.k, args.n, generator=g) * 0.05, 7)
    ops = dst16_matmul.Operands(a, w, True, True, args.phases, True)
    kernel = timed(lambda: ops.accumulate(None, 0, args.k), args.repeats)
    b_faces = [None if t is None else dst16_matmul.faces_in0(t, True)
               for t in dst16_matmul.phase_parts(a, True, "in0", args.phases)]
    a_faces = [None if t is None else dst16_matmul.faces_in1(t, True)
               for t in dst16_matmul.phase_parts(w, True, "in1", args.phases)]
    loop = timed(lambda: dst16_matmul.accumulate(torch.zeros(args.m, args.n, dtype=torch.bfloat16), b_faces,
                                                 a_faces, ops.steps, 0, args.k, True), 1)
    sgemm = timed(lambda: a @ w, args.repeats)
    same = torch.equal(kernel[2].view(torch.int16), loop[2].view(torch.int16))
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"threads {torch.get_num_threads()}; M {args.m} K {args.k} N {args.n}, {args.phases} phase(s)")
    for name, (wall, cpu, _) in (("compiled kernel", kernel), ("addmm loop", loop), ("float32 GEMM", sgemm)):
        print(f"{name:16} {wall:8.3f} s wall {cpu:8.3f} s CPU")
    print(f"kernel bits == addmm loop bits: {same}")
    print(f"addmm loop / kernel = {loop[0] / kernel[0]:.1f} (CPU time {loop[1] / kernel[1]:.1f}); "
          f"kernel / float32 GEMM = {kernel[0] / sgemm[0]:.2f} (CPU time {kernel[1] / sgemm[1]:.2f})")


if __name__ == "__main__":
    main()
