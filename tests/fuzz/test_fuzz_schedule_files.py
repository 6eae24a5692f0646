"""Mutated device and schedule YAML files through the real `python -m compiler check-schedule` path.

Every case ends in exit 0 or exit 2 with exactly one `error: ` line that names the file; never a traceback.
Cases run in-process through compiler.cli.main (a subprocess per case would take minutes) with the small
MiniLM config so the probe traces stay cheap (compiler/check_schedule.py caches them per batch and seq_len).
"""
import contextlib
import copy
import io
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from compiler.cli import main
from fuzz_helpers import HOSTILE_SCALARS, assert_one_error_line, structural_mutation, text_mutation

ROOT = Path(__file__).resolve().parents[2]
MODEL = str(ROOT / "models" / "minilm-l6-squad1")
DEVICES = ("grayskull_e150", "wormhole_n300")
DEVICE_TEXT = {d: (ROOT / "schedules" / "devices" / f"{d}.yaml").read_text() for d in DEVICES}
SCHEDULE_TEXT = {d: (ROOT / "schedules" / "bert" / f"{d}.yaml").read_text() for d in DEVICES}
BATCH = {"grayskull_e150": "4", "wormhole_n300": "3"}
N_DEVICE, N_SCHEDULE = 260, 300

DOMAIN = st.sampled_from([
    # grids larger than the device, non-tile-aligned shards, L1 overflow, huge / zero / negative sizes
    ("schedule", ("activation_grid", "hidden_cores"), st.sampled_from([0, -4, 5, 7, 13, 64, 10 ** 6, "all", 2.0])),
    ("schedule", ("seq_len",), st.sampled_from([0, -384, 1, 100, 383, 385, 96, 640, 4096, 2 ** 40, "384"])),
    ("schedule", ("overrides",), st.fixed_dictionaries({}, optional={
        r: st.dictionaries(st.sampled_from(["in0_block_w", "out_subblock_h", "out_subblock_w", "subblock_w", "dtype", "bogus"]),
                           st.one_of(st.integers(-2, 40), st.sampled_from(["bfloat8_b", "int8", None])), max_size=3)
        for r in ("qkv", "ff1", "ff2", "self_out", "qa", "attention_layernorm", "attention_scores")})),
    ("schedule", ("dtypes", "activations"), st.sampled_from(["bfloat16", "bfloat4_b", "float32", "int8", 16])),
    ("schedule", ("placement", "weights"), st.sampled_from(["DRAM", "L1_INTERLEAVED", "BLOCK_SHARDED", "SRAM"])),
    ("schedule", ("placement", "hidden"), st.sampled_from(["BLOCK_SHARDED", "HEIGHT_SHARDED", "DRAM"])),
    ("schedule", ("activation_grid", "hidden_axis"), st.sampled_from(["x", "y", "z", 0])),
    ("schedule", ("device",), st.sampled_from(["grayskull_e150", "wormhole_n300", "nope", "../devices/x", ""])),
    ("device", ("l1_bytes_per_core",), st.sampled_from([1, 1000, 65536, 200000, 2 ** 40, 10 ** 30, 0, -1])),
    ("device", ("compute_grid", "x"), st.sampled_from([0, 1, 2, 3, 65, 1000, -1, 8.5])),
    ("device", ("compute_grid", "y"), st.sampled_from([0, 1, 2, 3, 65, 1000, -1])),
    ("device", ("batch",), st.sampled_from([None, {"min": 1}, {"min": 0, "max": 3}, {"min": 5, "max": 2},
                                           {"min": 1, "max": 10 ** 9}, {"max": 2}, {}])),
    ("device", ("rates", "matmul_tile_cycles", "LoFi"), st.sampled_from([0, -1, 10 ** 20, 2 ** 100, 1.5])),
    ("device", ("clock_ghz",), st.sampled_from([0, -1.0, 1e308, 10 ** 400, float("nan"), "fast"])),
    ("device", ("tile",), st.sampled_from([[16, 16], [32], "32x32", None, [32, 32]])),
])


def _set(obj, path, value):
    for k in path[:-1]:
        obj = obj.setdefault(k, {}) if isinstance(obj, dict) else obj
    if isinstance(obj, dict):
        obj[path[-1]] = value


@st.composite
def case(draw, kind):
    """(device name, device bytes, schedule bytes): one of the two files mutated."""
    dev = draw(st.sampled_from(DEVICES))
    texts = {"device": DEVICE_TEXT[dev], "schedule": SCHEDULE_TEXT[dev]}
    how = draw(st.sampled_from(["structure", "domain", "domain", "text"]))
    if how == "text":
        bad = draw(text_mutation(texts[kind]))
    else:
        data = yaml.safe_load(texts[kind])
        if how == "structure":
            data = draw(structural_mutation(data))
        else:
            for _ in range(draw(st.integers(1, 2))):
                which, path, values = draw(DOMAIN.filter(lambda d: d[0] == kind))
                _set(data, path, copy.deepcopy(draw(values)))
        try:
            bad = yaml.safe_dump(data, sort_keys=False, allow_unicode=draw(st.booleans())).encode("utf-8", "surrogatepass")
        except (yaml.YAMLError, UnicodeEncodeError):
            bad = texts[kind].encode()
    out = {k: v.encode() for k, v in texts.items()}
    out[kind] = bad
    return dev, out["device"], out["schedule"]


def _check(tmp: Path, kind: str, dev: str, device_bytes: bytes, schedule_bytes: bytes) -> None:
    dpath, spath = tmp / "devices" / f"{dev}.yaml", tmp / "bert" / f"{dev}.yaml"
    dpath.parent.mkdir(parents=True, exist_ok=True)
    spath.parent.mkdir(parents=True, exist_ok=True)
    dpath.write_bytes(device_bytes)
    spath.write_bytes(schedule_bytes)
    target = dpath if kind == "device" else spath
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(["check-schedule", str(target), "--batch", BATCH[dev], "--model", MODEL])
    assert_one_error_line(rc, err.getvalue(), [f"{dev}.yaml", str(tmp)])


@pytest.mark.parametrize("kind", ["device", "schedule"])
def test_mutated_yaml_check_schedule(kind, tmp_path_factory, fuzz_scale, case_counter):
    tmp = tmp_path_factory.mktemp(f"fuzz_{kind}")
    n = (N_DEVICE if kind == "device" else N_SCHEDULE) * fuzz_scale

    @settings(max_examples=n, deadline=None, database=None, derandomize=fuzz_scale == 1,
              suppress_health_check=list(HealthCheck))
    @given(case(kind))
    def run(c):
        case_counter[f"{kind} yaml"] += 1
        _check(tmp, kind, *c)

    run()


@pytest.mark.parametrize("text", [
    "", "\n", "- 1\n- 2\n", "just a string", "a: [1, 2\n", "a: {b: 1, b: 2}\n", "? [1, 2]\n: 3\n",
    "a: " + "[" * 600 + "]" * 600 + "\n", "a: *undefined\n", "!!python/object:os.system {}\n", "x: \x00\n",
], ids=lambda t: repr(t[:24]))
def test_handwritten_hostile_yaml(tmp_path, text, case_counter):
    for dev in DEVICES:
        for kind in ("device", "schedule"):
            case_counter[f"{kind} yaml"] += 1
            files = {"device": DEVICE_TEXT[dev].encode(), "schedule": SCHEDULE_TEXT[dev].encode()}
            files[kind] = text.encode()
            _check(tmp_path, kind, dev, files["device"], files["schedule"])


def test_non_utf8_and_directory(tmp_path):
    for target in (tmp_path / "latin1.yaml", tmp_path / "dir.yaml", tmp_path / "missing.yaml"):
        if target.name == "latin1.yaml":
            target.write_bytes("name: gr\xe4yskull\n".encode("latin-1"))
        elif target.name == "dir.yaml":
            target.mkdir()
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = main(["check-schedule", str(target), "--batch", "2", "--model", MODEL])
        assert rc == 2
        assert_one_error_line(rc, err.getvalue(), [target.name])
