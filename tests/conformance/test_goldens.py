"""The real ttnn golden function of each op an emitted program calls, against the emulated op.

Goldens come from the installed ttnn 0.81.1 wheel's source, read at test time by
``conformance.goldens.load_golden`` (the wheel's torch code, run here in the main environment).
Each test builds random inputs that are exact in bfloat16, runs the golden on torch tensors and the
emulated op on emulated device tensors holding the same values (interleaved L1/DRAM, TILE layout,
bfloat16 in and out unless the op needs otherwise), passes both the same arguments, and compares.
The golden used (file:line in the wheel) is printed to stderr.

Golden inputs are float32 tensors holding the bf16 values (not bf16 tensors as ttnn's own comparison
mode would pass after ``to_torch``): the goldens then compute in float32 and round once, like the
emulator does, instead of rounding after every torch op.

Tolerances:
* data movement (heads split / concat, embedding, reshape, (inter)leaved<->sharded, from_torch,
  to_device, to_torch) and add: exact.  add: both sides add in float32 and round that sum to bf16
  (nearest even) once;
* matmul, linear, layer_norm, softmax: 1 bf16 ulp (of the larger of the two values) after rounding
  the golden to bf16.  Both sides compute in float32 from identical operands and round once to bf16;
  they differ only in float32 summation order (GEMM / reduction), ~1e-6 relative, which can move a
  value across a bf16 rounding boundary, i.e. by one bf16 step, never more.  The emulator runs
  with the device's most exact settings (``exact_compute()``: HiFi4 = full bf16 products, FP32 Dst
  accumulation, no approximate SFPU functions): the goldens are exact math, and the defaults
  (HiFi2, 16-bit Dst, approximate exp) are device precision, not op semantics;
* fused GELU: plus GOLDEN_GELU_TAIL_ABS_ERR (the golden's own float32 cancellation for x < -3) for
  the accurate kernel, plus FAST_GELU_ABS_ERR (the device's LUT) for the fast one.

Where the golden differs from the documented device semantics the difference is tested explicitly
(tests named ``test_golden_differs_*``): fused GELU (erf whatever the fast-approximation flag), the
emitted bias / gamma / mask layouts the goldens cannot take, the experimental ops' call forms,
ranks and column grouping, block-float outputs.
"""
from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import pytest
import torch

import runtime.emulator as emulator
from conformance import goldens as G
from conformance.harness import run_in_venv
from runtime.emulator import ttnn as E

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "bert_1layer_wh_b7.py"
# compiler sources that write the ttnn calls of an emitted program
EMITTING_SOURCES = ("compiler/lower.py", "compiler/emit.py", "compiler/templates/program.py.jinja")

# every ttnn function an emitted program calls: what compiler/lower.py, compiler/emit.py and the
# template write, and what the hand-written fixture program calls (test_emitted_ops_... checks this)
EMITTED_OPS = (
    "ttnn.open_device",
    "ttnn.from_torch",
    "ttnn.to_device",
    "ttnn.to_torch",
    "ttnn.deallocate",
    "ttnn.embedding",
    "ttnn.add",
    "ttnn.layer_norm",
    "ttnn.reshape",
    "ttnn.interleaved_to_sharded",
    "ttnn.sharded_to_interleaved",
    "ttnn.linear",
    "ttnn.matmul",
    "ttnn.scale_mask_softmax_in_place",
    "ttnn.experimental.split_query_key_value_and_split_heads",
    "ttnn.transformer.concatenate_heads",      # the fixture program
    "ttnn.experimental.nlp_concat_heads",      # compiler/lower.py
    # the performant runner and the mesh (compiler/templates/program.py.jinja, --trace / --mesh)
    "ttnn.open_mesh_device",
    "ttnn.shard_tensor_to_mesh_mapper",
    "ttnn.replicate_tensor_to_mesh_mapper",
    "ttnn.concat_mesh_to_tensor_composer",
    "ttnn.distribute_tensor",
    "ttnn.copy_host_to_device_tensor",
    "ttnn.copy",
    "ttnn.from_device",
    "ttnn.record_event",
    "ttnn.wait_for_event",
    "ttnn.begin_trace_capture",
    "ttnn.end_trace_capture",
    "ttnn.execute_trace",
    "ttnn.release_trace",
    "ttnn.synchronize_device",
)

# emitted ops without a golden in the wheel (test_no_golden_claims checks the wheel agrees)
NO_GOLDEN = {
    "ttnn.open_device": "device management, no tensor computed: the wheel attaches no golden",
    "ttnn.deallocate": "the wheel attaches golden_function=None (operations/core.py: 'deallocate returns None "
                       "and only releases storage; there is no output value to compare')",
    "ttnn.experimental.nlp_concat_heads": "the wheel attaches no golden (ttnn.experimental.concatenate_heads "
                                          "has one: test_golden_differs_experimental_concatenate_heads)",
    **{op: "device / mesh management, no tensor computed: the wheel attaches no golden"
       for op in ("ttnn.open_mesh_device", "ttnn.synchronize_device")},
    **{op: "a mesh mapper / composer object, not an op on values: the wheel attaches no golden (what it does to "
           "values is tested against the single-chip program in tests/runtime/test_mesh_trace.py)"
       for op in ("ttnn.shard_tensor_to_mesh_mapper", "ttnn.replicate_tensor_to_mesh_mapper",
                  "ttnn.concat_mesh_to_tensor_composer", "ttnn.distribute_tensor")},
    **{op: "command-queue event or trace control, no tensor computed: the wheel attaches no golden (the rules it "
           "imposes: tests/emulator/test_trace_rules.py)"
       for op in ("ttnn.record_event", "ttnn.wait_for_event", "ttnn.begin_trace_capture", "ttnn.end_trace_capture",
                  "ttnn.execute_trace", "ttnn.release_trace")},
}

# ops whose golden is compared with the emulator here -> the tests doing it (besides the emitted ones:
# ttnn.transformer.split_query_key_value_and_split_heads, which the emulator provides and earlier
# programs emitted)
COMPARED = {
    "ttnn.from_torch": ["test_from_torch", "test_golden_differs_block_float_output"],
    "ttnn.to_device": ["test_to_device"],
    "ttnn.to_torch": ["test_to_torch"],
    "ttnn.from_device": ["test_from_device"],
    "ttnn.copy": ["test_copy"],
    "ttnn.copy_host_to_device_tensor": ["test_copy_host_to_device_tensor"],
    "ttnn.embedding": ["test_embedding"],
    "ttnn.add": ["test_add"],
    "ttnn.layer_norm": ["test_layer_norm", "test_golden_differs_layer_norm_gamma_layout"],
    "ttnn.reshape": ["test_reshape"],
    "ttnn.interleaved_to_sharded": ["test_interleaved_to_sharded", "test_golden_differs_block_float_output"],
    "ttnn.sharded_to_interleaved": ["test_sharded_to_interleaved"],
    "ttnn.linear": ["test_linear_bias", "test_linear_fused_gelu", "test_golden_differs_fused_gelu",
                    "test_golden_differs_linear_bias_layout"],
    "ttnn.matmul": ["test_matmul"],
    "ttnn.scale_mask_softmax_in_place": ["test_scale_mask_softmax", "test_golden_differs_softmax_mask_layout"],
    "ttnn.experimental.split_query_key_value_and_split_heads": [
        "test_experimental_split_heads", "test_golden_differs_experimental_split_heads_grouping"],
    "ttnn.transformer.concatenate_heads": ["test_transformer_concatenate_heads"],
    "ttnn.transformer.split_query_key_value_and_split_heads": ["test_transformer_split_heads"],
}

# the device's fast GELU (fused_activation=(GELU, non-zero): the 6-segment LUT of ckernel_sfpu_gelu.h
# calculate_gelu_appx) is at most 0.0234 from erf GELU over all x (max |LUT - erf GELU|, near |x| = 0.25);
# 0.03 bounds that plus the bf16 store
FAST_GELU_ABS_ERR = 0.03
# the golden's GELU is torch's float32 x/2 * (1 + erf(x/sqrt 2)): for x <~ -3 the sum 1 + erf cancels
# and keeps the ~2**-24 absolute rounding of erf, so the golden is off by up to |x| * 2**-24 there
# (5.7e-8 = 8 bf16 ulps at x = -5.05, seen here), where the device's accurate GELU is not; 2**-20 covers
# |x| < 16
GOLDEN_GELU_TAIL_ABS_ERR = 2.0 ** -20

GEN = torch.Generator().manual_seed(20240)


# --- fixtures and helpers ------------------------------------------------------------------------

@pytest.fixture(autouse=True, scope="module")
def _wheel():
    try:
        G.ttnn_package_dir()
    except G.GoldenUnavailable as e:
        pytest.skip(f"ttnn side environment missing, no goldens to read: {e}")


@pytest.fixture
def device():
    emulator.set_device_spec("wormhole_n300")
    for dev in list(E.operations._open_devices.values()):
        E.close_device(dev)
    dev = E.open_device(device_id=0)
    yield dev
    E.close_device(dev)


def golden(op_name: str) -> G.Golden:
    g = G.load_golden(op_name)
    print(f"[golden] {op_name}: {g.expression} defined at {', '.join(g.defined_at)}, attached at "
          f"{g.attached_at} (ttnn wheel)", file=sys.stderr)
    return g


@pytest.fixture
def documented_semantics():
    """Each op's meaning without the device's rounding (the emulator's fp32 executor), which is what a golden
    describes. The device arithmetic itself (fidelity phases, bf16 Dst, intermediate formats) is checked against
    its own model in tests/emulator/test_compute_numerics.py."""
    from runtime.emulator import formats

    with formats.numerics("fp32"):
        yield


def exact_compute():
    """The device's most exact compute settings (documented ttnn 0.81 API)."""
    return E.WormholeComputeKernelConfig(math_fidelity=E.MathFidelity.HiFi4, math_approx_mode=False,
                                         fp32_dest_acc_en=True, packer_l1_acc=False)


def bf16_values(*shape, scale=1.0):
    """float32 tensor of bf16-exact random values."""
    return (torch.randn(*shape, generator=GEN) * scale).to(torch.bfloat16).float()


def dev(x, device, *, layout=None, mc=None, dtype=None):
    return E.from_torch(x, dtype=dtype or E.bfloat16, layout=layout or E.TILE_LAYOUT, device=device,
                        memory_config=mc or E.L1_MEMORY_CONFIG)


def host(t):
    return E.to_torch(t).float()


def block_mc(gx, gy, sh, sw):
    grid = E.CoreRangeSet({E.CoreRange(E.CoreCoord(0, 0), E.CoreCoord(gx - 1, gy - 1))})
    return E.MemoryConfig(E.TensorMemoryLayout.BLOCK_SHARDED, E.BufferType.L1,
                          E.ShardSpec(grid, [sh, sw], E.ShardOrientation.ROW_MAJOR))


def bf16_ulp(x):
    """Spacing of bf16 numbers at |x| (8 significant bits)."""
    a = x.abs().float().clamp(min=torch.finfo(torch.bfloat16).tiny)
    return torch.ldexp(torch.ones_like(a), torch.frexp(a).exponent - 8)


def assert_exact(got, ref, what):
    got, ref = got.float(), ref.float()
    assert list(got.shape) == list(ref.shape), f"{what}: shape {list(got.shape)} vs golden {list(ref.shape)}"
    diff = (got - ref).abs()
    assert torch.equal(got, ref), f"{what}: {int((diff > 0).sum())} values differ, max |diff| {diff.max().item():.4g}"
    print(f"[compare] {what}: exact ({got.numel()} values)", file=sys.stderr)


def assert_bf16_close(got, ref, what, *, ulps=1, abs_err=0.0):
    """|emulator - bf16(golden)| <= ulps bf16 ulps of the larger of the two, plus abs_err."""
    got = got.float()
    ref_q = ref.float().to(torch.bfloat16).float()
    assert list(got.shape) == list(ref_q.shape), f"{what}: shape {list(got.shape)} vs golden {list(ref_q.shape)}"
    ulp = bf16_ulp(torch.maximum(got.abs(), ref_q.abs()))
    diff = (got - ref_q).abs()
    bad = diff > ulps * ulp + abs_err
    i, j = int(diff.argmax()), int((diff / ulp).argmax())

    def at(k):
        return (f"emulator {got.flatten()[k].item()!r}, golden {ref.float().flatten()[k].item()!r} "
                f"(flat index {k}, {(diff / ulp).flatten()[k].item():.2f} ulp)")

    summary = (f"{what}: max |diff| {diff.max().item():.4g}: {at(i)}; largest in ulps: {at(j)}; "
               f"{int((diff > 0).sum())} of {diff.numel()} values differ, {int(bad.sum())} beyond the tolerance "
               f"({ulps} ulp + {abs_err:.3g})")
    print(f"[compare] {summary}", file=sys.stderr)
    assert not bad.any(), summary


def gelu_config(approx):
    """Program config for a [2, 64, 128] x [128, 96] linear on a 3 x 4 grid, with fused GELU."""
    return E.MatmulMultiCoreReuseMultiCastProgramConfig(
        compute_with_storage_grid_size=(3, 4), in0_block_w=4, out_subblock_h=1, out_subblock_w=1,
        per_core_M=1, per_core_N=1, transpose_mcast=False, fused_activation=(E.UnaryOpType.GELU, approx))


# --- coverage of the emitted ops -----------------------------------------------------------------

def _attr_chain(node):
    """'ttnn.a.b' for an attribute chain on the name ttnn, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join(["ttnn"] + parts[::-1]) if isinstance(node, ast.Name) and node.id == "ttnn" and parts else None


def _emitted_calls():
    """ttnn functions called by what the compiler writes (names in code strings) and by the fixture."""
    names = set()
    pat = re.compile(r"ttnn\.((?:[a-z_][a-z0-9_]*\.)*[a-z_][a-z0-9_]*)(?=\(|\")")
    for rel in EMITTING_SOURCES:
        names |= {f"ttnn.{m}" for m in pat.findall((REPO_ROOT / rel).read_text())}
    for node in ast.walk(ast.parse(FIXTURE.read_text())):
        name = _attr_chain(node.func) if isinstance(node, ast.Call) else None
        if name and name.split(".")[-1][:1].islower():
            names.add(name)
    return names


def test_emitted_ops_have_a_golden_or_a_reason():
    assert not set(COMPARED) & set(NO_GOLDEN)
    missing = [op for op in EMITTED_OPS if op not in COMPARED and op not in NO_GOLDEN]
    assert not missing, f"emitted ops neither compared with a golden nor listed in NO_GOLDEN: {missing}"
    assert set(NO_GOLDEN) <= set(EMITTED_OPS)
    unlisted = sorted(_emitted_calls() - set(EMITTED_OPS))
    assert not unlisted, f"ttnn calls in {EMITTING_SOURCES} / {FIXTURE.name} missing from EMITTED_OPS: {unlisted}"
    for op, tests in COMPARED.items():
        for t in tests:
            assert callable(globals().get(t)), f"{op}: no test {t}"
        note = "" if op in EMITTED_OPS else " [not emitted by the current compiler]"
        print(f"[golden] {G.load_golden(op)}{note}", file=sys.stderr)
    for op, why in NO_GOLDEN.items():
        print(f"[no golden] {op}: {why}", file=sys.stderr)


def test_no_golden_claims():
    for op in NO_GOLDEN:
        with pytest.raises(G.GoldenUnavailable):
            G.load_golden(op)


_RUNTIME_SCRIPT = r"""
import json, sys
from conformance import mockenv
mockenv.configure()
import ttnn
out = {}
for name in json.loads(sys.argv[1]):
    obj = ttnn
    try:
        for part in name.split(".")[1:]:
            obj = getattr(obj, part)
    except AttributeError:
        out[name] = "no such op"
        continue
    f = getattr(obj, "golden_function", None)
    code = getattr(f, "__code__", None)
    out[name] = None if code is None else [code.co_filename, code.co_firstlineno, code.co_name]
print("RESULT " + json.dumps(out))
"""


def test_loader_picks_the_golden_ttnn_attaches():
    """The function load_golden builds is the one the real ttnn has attached after import (same code)."""
    proc = run_in_venv(["-c", _RUNTIME_SCRIPT, json.dumps(list(EMITTED_OPS))], timeout=600, check=True)
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    runtime = json.loads(line[len("RESULT "):])
    for op in EMITTED_OPS:
        if op in NO_GOLDEN:
            assert runtime[op] in (None, "no such op"), f"{op}: ttnn has a golden {runtime[op]}; compare it"
            continue
        code = G.load_golden(op).function.__code__
        assert [code.co_filename, code.co_firstlineno, code.co_name] == runtime[op], op


def test_missing_wheel_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("TTNN_VENV_DIR", str(tmp_path))
    with pytest.raises(G.GoldenUnavailable, match="no ttnn wheel"):
        G.load_golden("ttnn.linear")


# --- compute ops ---------------------------------------------------------------------------------

def test_linear_bias(documented_semantics, device):
    g = golden("ttnn.linear")
    a, w, b = bf16_values(2, 64, 128), bf16_values(128, 96, scale=0.1), bf16_values(96)
    kw = dict(memory_config=E.L1_MEMORY_CONFIG, dtype=E.bfloat16, compute_kernel_config=exact_compute())
    tb = dev(b.reshape(1, 1, 1, 96), device, mc=E.DRAM_MEMORY_CONFIG)
    out = E.linear(dev(a, device), dev(w, device, mc=E.DRAM_MEMORY_CONFIG), bias=tb, **kw)
    # the golden adds its bias as a tensor: the broadcast row goes in as a [N] vector
    # (test_golden_differs_linear_bias_layout: the emitted [1, 1, 32, N] tile does not work there)
    ref = g(a, w, bias=b, **kw)
    assert ref.dtype == torch.bfloat16
    assert_bf16_close(host(out), ref, "ttnn.linear(bias)")


@pytest.mark.parametrize("approx", [False, True], ids=["gelu_accurate", "gelu_fast"])
def test_linear_fused_gelu(documented_semantics, device, approx):
    """fused_activation=(GELU, approx) in the program config, as emitted for FF1.

    The golden applies torch's erf GELU whatever the flag (ttnn/operations/activations.py maps
    UnaryOpType.GELU to torch.nn.functional.gelu and ignores the parameter).  The device's accurate
    GELU matches that to bf16 rounding (up to the golden's own float32 cancellation in the tail,
    GOLDEN_GELU_TAIL_ABS_ERR); its fast one is a LUT approximation of it, so with the flag set the
    emulator may deviate from the golden by up to FAST_GELU_ABS_ERR (device semantics, not a
    mismatch of the op)."""
    g = golden("ttnn.linear")
    a, w, b = bf16_values(2, 64, 128), bf16_values(128, 96, scale=0.1), bf16_values(96)
    kw = dict(program_config=gelu_config(approx), memory_config=E.L1_MEMORY_CONFIG, dtype=E.bfloat16,
              compute_kernel_config=exact_compute())
    tb = dev(b.reshape(1, 1, 1, 96), device, mc=E.DRAM_MEMORY_CONFIG)
    out = E.linear(dev(a, device, mc=E.DRAM_MEMORY_CONFIG), dev(w, device, mc=E.DRAM_MEMORY_CONFIG), bias=tb, **kw)
    ref = g(a, w, bias=b, **kw)
    name = f"ttnn.linear(bias, fused_activation=(GELU, {approx}))"
    assert_bf16_close(host(out), ref, name, abs_err=FAST_GELU_ABS_ERR if approx else GOLDEN_GELU_TAIL_ABS_ERR)


def test_golden_differs_fused_gelu():
    """The golden's GELU is exact erf GELU for (GELU, False) and (GELU, True) alike; the device's
    (GELU, True) is the fast LUT approximation (test_linear_fused_gelu[gelu_fast])."""
    g = golden("ttnn.linear")
    a, w, b = bf16_values(2, 64, 128), bf16_values(128, 96, scale=0.1), bf16_values(96)
    pre = g(a, w, bias=b)                                   # float32, no activation
    accurate = g(a, w, bias=b, program_config=gelu_config(False))
    fast = g(a, w, bias=b, program_config=gelu_config(True))
    assert torch.equal(accurate, fast)
    assert torch.equal(accurate, torch.nn.functional.gelu(pre))
    tanh = torch.nn.functional.gelu(pre, approximate="tanh")
    assert not torch.equal(accurate, tanh)
    print(f"[golden GELU] (GELU, True) -> erf GELU (not tanh: max |erf - tanh| {(accurate - tanh).abs().max():.3g})",
          file=sys.stderr)


def test_golden_differs_linear_bias_layout():
    """Emitted biases are [1, 1, 32, N] tiles of which the device broadcasts row 0; the golden adds
    the whole tensor (and its 'len(bias) == 2' squeeze tests dim 0, not the rank), so on the emitted
    layout it raises, and only an [N] (or, for 4-D inputs, [1, 1, 1, N]) bias gives device semantics."""
    g = golden("ttnn.linear")
    a, w, b = bf16_values(2, 64, 128), bf16_values(128, 96, scale=0.1), bf16_values(96)
    tile = torch.zeros(1, 1, 32, 96)
    tile[0, 0, 0] = b
    with pytest.raises(RuntimeError):
        g(a, w, bias=tile)
    assert torch.equal(g(a.reshape(2, 1, 64, 128), w, bias=b.reshape(1, 1, 1, 96)).reshape(2, 64, 96), g(a, w, bias=b))


def test_matmul(documented_semantics, device):
    g = golden("ttnn.matmul")
    q, kt = bf16_values(2, 4, 64, 32), bf16_values(2, 4, 32, 64)
    kw = dict(memory_config=E.L1_MEMORY_CONFIG, dtype=E.bfloat16, compute_kernel_config=exact_compute())
    out = E.matmul(dev(q, device), dev(kt, device), **kw)
    assert_bf16_close(host(out), g(q, kt, **kw), "ttnn.matmul (batched [2, 4, 64, 32] x [2, 4, 32, 64])")


def test_layer_norm(documented_semantics, device):
    g = golden("ttnn.layer_norm")
    x, r = bf16_values(2, 64, 256), bf16_values(2, 64, 256)
    gamma, beta = (1 + bf16_values(256, scale=0.1)).to(torch.bfloat16).float(), bf16_values(256, scale=0.1)
    kw = dict(epsilon=1e-12, memory_config=E.L1_MEMORY_CONFIG, program_config=None,
              compute_kernel_config=exact_compute())
    # emitted layout: gamma / beta bf16 ROW_MAJOR [1, 1, W/32, 32] in DRAM
    tg = dev(gamma.reshape(1, 1, 8, 32), device, layout=E.ROW_MAJOR_LAYOUT, mc=E.DRAM_MEMORY_CONFIG)
    tb = dev(beta.reshape(1, 1, 8, 32), device, layout=E.ROW_MAJOR_LAYOUT, mc=E.DRAM_MEMORY_CONFIG)
    out = E.layer_norm(dev(x, device), residual_input_tensor=dev(r, device), weight=tg, bias=tb, **kw)
    # the golden adds the residual into its input in place: give it a copy
    ref = g(x.clone(), residual_input_tensor=r, weight=gamma.reshape(1, 1, 1, 256), bias=beta.reshape(1, 1, 1, 256),
            **kw)
    assert_bf16_close(host(out), ref, "ttnn.layer_norm(residual, gamma, beta, eps=1e-12)")


def test_golden_differs_layer_norm_gamma_layout():
    """The device takes ROW_MAJOR gamma / beta as [1, 1, W/32, 32] (rows of 32, as emitted); the golden
    squeezes them to [W/32, 32], which torch's layer_norm refuses: it needs [1, 1, 1, W] or [W]."""
    g = golden("ttnn.layer_norm")
    x, gamma = bf16_values(2, 64, 256), 1 + bf16_values(256, scale=0.1)
    with pytest.raises(RuntimeError):
        g(x.clone(), weight=gamma.reshape(1, 1, 8, 32), epsilon=1e-12)
    assert torch.equal(g(x.clone(), weight=gamma.reshape(1, 1, 1, 256)), g(x.clone(), weight=gamma))


def _mask(b, s, lengths):
    m = torch.zeros(b, s)
    for i, n in enumerate(lengths):
        m[i, n:] = -100000.0
    return m


def test_scale_mask_softmax(documented_semantics, device):
    g = golden("ttnn.scale_mask_softmax_in_place")
    b, nh, s = 2, 2, 64
    x = bf16_values(b, nh, s, s, scale=3.0)
    m = _mask(b, s, [40, 64])
    # emitted mask: bf16 ROW_MAJOR [B, 1, S/32, 32] in L1 (the S key positions in rows of 32)
    tm = dev(m.reshape(b, 1, s // 32, 32), device, layout=E.ROW_MAJOR_LAYOUT)
    tx = dev(x, device)
    out = E.scale_mask_softmax_in_place(tx, 0.125, tm, compute_kernel_config=exact_compute())
    assert out is tx
    ref = g(x, 0.125, m.reshape(b, 1, 1, s), compute_kernel_config=exact_compute())
    assert_bf16_close(host(out), ref, "ttnn.scale_mask_softmax_in_place(scale=0.125, mask)")


def test_golden_differs_softmax_mask_layout():
    """The device reads a ROW_MAJOR [B, 1, S/32, 32] mask as the S key positions; the golden adds the
    mask tensor as is, which does not broadcast: it needs [B, 1, 1, S]."""
    g = golden("ttnn.scale_mask_softmax_in_place")
    x, m = bf16_values(2, 2, 64, 64), _mask(2, 64, [40, 64])
    with pytest.raises(RuntimeError):
        g(x, 0.125, m.reshape(2, 1, 2, 32))


# --- data movement -------------------------------------------------------------------------------

def test_from_torch(device):
    """Rounding to bfloat16 (inputs not bf16-exact here) and uint32 ids, as prepare_inputs does."""
    g = golden("ttnn.from_torch")
    x = torch.randn(2, 64, 96, generator=GEN)
    kw = dict(dtype=E.bfloat16, layout=E.TILE_LAYOUT, device=device, memory_config=E.L1_MEMORY_CONFIG)
    ref = g(x, **kw)
    assert ref.dtype == torch.bfloat16
    assert_exact(host(E.from_torch(x, **kw)), ref, "ttnn.from_torch(bfloat16, TILE)")
    ids = torch.randint(0, 30000, (2, 64), generator=GEN, dtype=torch.int32)
    kw = dict(dtype=E.uint32, layout=E.ROW_MAJOR_LAYOUT, device=device, memory_config=E.DRAM_MEMORY_CONFIG)
    ref = g(ids, **kw)
    assert ref.dtype == torch.uint32
    assert_exact(E.to_torch(E.from_torch(ids, **kw)).to(torch.int64), ref.to(torch.int64), "ttnn.from_torch(uint32)")


def test_to_device(device):
    g = golden("ttnn.to_device")
    x = bf16_values(2, 64, 96)
    h = E.from_torch(x, dtype=E.bfloat16, layout=E.TILE_LAYOUT)
    out = E.to_device(h, device, memory_config=E.DRAM_MEMORY_CONFIG)
    assert_exact(host(out), g(x, device, memory_config=E.DRAM_MEMORY_CONFIG), "ttnn.to_device")


def test_to_torch(device):
    """The golden receives the tensor as torch already (ttnn converts its inputs): it only applies
    dtype / torch_rank, which is what is compared."""
    g = golden("ttnn.to_torch")
    x = bf16_values(1, 64, 96)
    t = dev(x, device)
    for kw in ({}, {"dtype": torch.float32}, {"torch_rank": 2}):
        out, ref = E.to_torch(t, **kw), g(x.to(torch.bfloat16), **kw)
        assert out.dtype == ref.dtype, (kw, out.dtype, ref.dtype)
        assert_exact(out, ref, f"ttnn.to_torch({kw})")


def test_from_device(device):
    g = golden("ttnn.from_device")
    x = bf16_values(2, 64, 96)
    out = E.from_device(dev(x, device), blocking=False)
    assert out.device() is None
    E.synchronize_device(device)     # a non-blocking read may be read only after it (the emulator refuses otherwise)
    assert_exact(E.to_torch(out).float(), g(x), "ttnn.from_device")


def test_copy(device):
    """The golden casts input_a to input_b's dtype and, on the global-golden path, writes it into input_b."""
    g = golden("ttnn.copy")
    x, y = bf16_values(1, 64, 96), bf16_values(1, 64, 96)
    a, b = dev(x, device), dev(y, device)
    address = b.buffer_address()
    E.copy(a, b)
    ref = y.to(torch.bfloat16).clone()
    g(x.to(torch.bfloat16), ref, _ttnn_global_golden=True)
    assert b.buffer_address() == address, "ttnn.copy moved input_b"
    assert_exact(host(b), ref, "ttnn.copy")


def test_copy_host_to_device_tensor(device):
    """The golden writes the source into the destination (global-golden path) and returns None, as the op does."""
    g = golden("ttnn.copy_host_to_device_tensor")
    x = bf16_values(1, 64, 96)
    target = dev(torch.zeros(1, 64, 96), device, mc=E.DRAM_MEMORY_CONFIG)
    assert E.copy_host_to_device_tensor(E.from_torch(x, dtype=E.bfloat16, layout=E.TILE_LAYOUT), target) is None
    ref = torch.zeros(1, 64, 96, dtype=torch.bfloat16)
    assert g(x.to(torch.bfloat16), ref, _ttnn_global_golden=True) is None
    assert_exact(host(target), ref, "ttnn.copy_host_to_device_tensor")


def test_embedding(device):
    g = golden("ttnn.embedding")
    table = bf16_values(100, 64)
    ids = torch.randint(0, 100, (2, 32), generator=GEN, dtype=torch.int32)
    t_ids = E.from_torch(ids, dtype=E.uint32, layout=E.ROW_MAJOR_LAYOUT, device=device,
                         memory_config=E.DRAM_MEMORY_CONFIG)
    t_tab = dev(table, device, layout=E.ROW_MAJOR_LAYOUT, mc=E.DRAM_MEMORY_CONFIG)
    kw = dict(layout=E.TILE_LAYOUT, memory_config=E.L1_MEMORY_CONFIG)
    out = E.embedding(t_ids, t_tab, **kw)
    assert_exact(host(out), g(ids, table, **kw), "ttnn.embedding")


def test_add(device):
    g = golden("ttnn.add")
    a, b = bf16_values(2, 64, 64), bf16_values(2, 64, 64)
    out = E.add(dev(a, device), dev(b, device), memory_config=E.L1_MEMORY_CONFIG)
    ref = g(a, b, memory_config=E.L1_MEMORY_CONFIG)
    assert_exact(host(out), ref.to(torch.bfloat16), "ttnn.add")


def test_reshape(device):
    g = golden("ttnn.reshape")
    x = bf16_values(2, 64, 128)
    out = E.reshape(dev(x, device), (2, 1, 64, 128))
    assert_exact(host(out), g(x, (2, 1, 64, 128)), "ttnn.reshape([2, 64, 128] -> [2, 1, 64, 128])")


def test_interleaved_to_sharded(device):
    g = golden("ttnn.interleaved_to_sharded")
    x = bf16_values(2, 64, 128)
    mc = block_mc(4, 2, 64, 32)
    out = E.interleaved_to_sharded(dev(x, device), mc, E.bfloat16)
    assert out.memory_config() == mc
    ref = g(x, mc, E.bfloat16)
    assert ref.dtype == torch.bfloat16
    assert_exact(host(out), ref, "ttnn.interleaved_to_sharded(bfloat16)")


def test_golden_differs_block_float_output():
    """Emitted programs store weights (from_torch) and shard activations (interleaved_to_sharded) as
    bfloat8_b; the goldens then pack block floats with the compiled ttnn.Tensor, which only the real
    library has: not comparable here (the emulator's bfloat8_b packing is checked against ttnn's own
    in test_formats_vs_ttnn.py)."""
    x = bf16_values(2, 64, 128)
    with pytest.raises(G.GoldenUnavailable, match="compiled"):
        golden("ttnn.interleaved_to_sharded")(x, block_mc(4, 2, 64, 32), E.bfloat8_b)
    with pytest.raises(G.GoldenUnavailable, match="compiled"):
        golden("ttnn.from_torch")(x, dtype=E.bfloat8_b, layout=E.TILE_LAYOUT)


def test_sharded_to_interleaved(device):
    g = golden("ttnn.sharded_to_interleaved")
    x = bf16_values(2, 64, 128)
    t = dev(x, device, mc=block_mc(4, 2, 64, 32))
    out = E.sharded_to_interleaved(t, E.L1_MEMORY_CONFIG)
    assert not out.memory_config().is_sharded()
    assert_exact(host(out), g(x, E.L1_MEMORY_CONFIG), "ttnn.sharded_to_interleaved")


def _heads(x, b, s, nh, d):
    return x.reshape(b, s, nh, d).permute(0, 2, 1, 3)


@pytest.mark.parametrize("transpose_key", [True, False])
def test_transformer_split_heads(device, transpose_key):
    g = golden("ttnn.transformer.split_query_key_value_and_split_heads")
    b, s, h, nh = 2, 64, 128, 4
    x = bf16_values(b, s, 3 * h)
    outs = E.transformer.split_query_key_value_and_split_heads(dev(x, device), num_heads=nh,
                                                               transpose_key=transpose_key)
    refs = g(x, num_heads=nh, transpose_key=transpose_key)
    for name, o, r in zip("qkv", outs, refs):
        assert_exact(host(o), r, f"ttnn.transformer.split_query_key_value_and_split_heads[{name}] "
                                 f"(transpose_key={transpose_key})")


def test_experimental_split_heads(device):
    """Interleaved QKV [B, 1, S, 3H] with the op's call form (qkv, compute_with_storage_grid_size,
    num_heads=..., memory_config=...).  The interleaved kernels hard-code BERT-large (16 heads of 64,
    batch 7..9), so that is the shape here.

    The golden is the transformer op's (ttnn/operations/transformer.py attaches one function to both):
    it takes no grid (a second positional argument is its kv_input_tensor, so the op's own call form
    fails) and only 3-D inputs; it is called with the [B, S, 3H] view and without the grid."""
    g = golden("ttnn.experimental.split_query_key_value_and_split_heads")
    b, s, nh, d = 7, 64, 16, 64
    x = bf16_values(b, 1, s, 3 * nh * d)
    grid = device.compute_with_storage_grid_size()
    with pytest.raises((TypeError, ValueError, RuntimeError)):
        g(x, grid, num_heads=nh)
    with pytest.raises(ValueError):
        g(x, num_heads=nh)                      # 4-D: "too many values to unpack"
    outs = E.experimental.split_query_key_value_and_split_heads(dev(x, device), grid, num_heads=nh,
                                                                memory_config=E.L1_MEMORY_CONFIG)
    refs = g(x.reshape(b, s, 3 * nh * d), num_heads=nh, memory_config=E.L1_MEMORY_CONFIG)
    for name, o, r in zip(("q", "k^T", "v"), outs, refs):
        assert_exact(host(o), r, f"ttnn.experimental.split_query_key_value_and_split_heads[{name}] (interleaved)")


def test_golden_differs_experimental_split_heads_grouping(device):
    """Emitted programs feed the experimental split a block-sharded QKV whose columns are regrouped
    per core column as [q_g | k_g | v_g] (docs/emitted-program-contract.md; the op's sharded kernels
    read it so).  The golden always reads [q | k | v]: on the emitted layout it returns other heads;
    the emulated op on the emitted layout equals the golden on the un-regrouped columns."""
    g = golden("ttnn.experimental.split_query_key_value_and_split_heads")
    b, s, h, nh, groups = 2, 64, 128, 4, 2     # 2 heads per core column, one batch per core row
    d, w = h // nh, h // groups
    q, k, v = bf16_values(b, s, h), bf16_values(b, s, h), bf16_values(b, s, h)
    regrouped = torch.cat([t[..., i * w:(i + 1) * w] for i in range(groups) for t in (q, k, v)], -1)
    device_heads = (_heads(q, b, s, nh, d), _heads(k, b, s, nh, d).transpose(-1, -2), _heads(v, b, s, nh, d))
    assert not torch.equal(g(regrouped, num_heads=nh)[0], device_heads[0])
    refs = g(torch.cat([q, k, v], -1), num_heads=nh)
    for got, want in zip(refs, device_heads):
        assert torch.equal(got, want)
    t = dev(regrouped.reshape(b, 1, s, 3 * h), device, mc=block_mc(groups, b, s, 3 * h // groups))
    outs = E.experimental.split_query_key_value_and_split_heads(
        t, device.compute_with_storage_grid_size(), num_heads=nh, memory_config=E.L1_HEIGHT_SHARDED_MEMORY_CONFIG)
    for name, o, r in zip(("q", "k^T", "v"), outs, refs):
        assert_exact(host(o), r, f"ttnn.experimental.split_query_key_value_and_split_heads[{name}] (block-sharded, "
                                 f"regrouped) vs golden on [q | k | v]")


def test_transformer_concatenate_heads(device):
    g = golden("ttnn.transformer.concatenate_heads")
    x = bf16_values(2, 4, 64, 32)
    out = E.transformer.concatenate_heads(dev(x, device), memory_config=E.L1_MEMORY_CONFIG)
    assert_exact(host(out), g(x, memory_config=E.L1_MEMORY_CONFIG), "ttnn.transformer.concatenate_heads")


def test_golden_differs_experimental_concatenate_heads(device):
    """Not emitted (programs call ttnn.transformer.concatenate_heads or, compiler/lower.py,
    ttnn.experimental.nlp_concat_heads) and not emulated; its golden is checked against its
    documentation only.  Call form (input, compute_with_storage_grid_size, memory_config=...): the
    golden takes the tensor only (a grid argument is a TypeError) and returns [B, S, H], where the
    op's docstring documents [B, 1, S, H] ("[9, 16, 384, 64] -> [9, 1, 384, 1024]")."""
    g = golden("ttnn.experimental.concatenate_heads")
    b, nh, s, d = 2, 4, 64, 32
    x = bf16_values(b, nh, s, d)
    with pytest.raises(TypeError):
        g(x, device.compute_with_storage_grid_size())
    ref = g(x, memory_config=E.L1_MEMORY_CONFIG)
    assert list(ref.shape) == [b, s, nh * d]
    assert torch.equal(ref, x.permute(0, 2, 1, 3).reshape(b, s, nh * d))
