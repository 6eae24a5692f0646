"""New targets without Python changes: the shipped example devices (derived batch ranges, builds that run
on the emulator with PCC against HF), the guide's walk-through followed literally, and check-schedule's
validation and error contract."""
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from compiler import cli
from compiler.build import compile_model, resolve_target, write_build
from compiler.check_schedule import derive_batch_range
from compiler.errors import ScheduleError, UserError
from compiler.model_source import resolve_model
from compiler.schedule import default_schedule_for, find_device, load_device, load_schedule

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "new-schedule.md"
EXAMPLES = ["wormhole_n150", "blackhole_p150"]


def pcc(a, b):
    a, b = torch.as_tensor(a).flatten().double(), torch.as_tensor(b).flatten().double()
    return torch.corrcoef(torch.stack([a, b]))[0, 1].item()


def run_main(main, argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error(code, err, pattern):
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert pattern in lines[0], lines[0]


# ---- the shipped examples ---------------------------------------------------------------------

@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_load_with_derived_range(name):
    device = find_device(name)
    assert device.batch_derived and device.batch_min == 1
    assert default_schedule_for(device).device == name


@pytest.mark.parametrize("name,grid,bound,hidden_cores", [("wormhole_n150", (8, 8), 8, 8), ("blackhole_p150", (11, 8), 11, 8)])
def test_examples_derived_range_for_bert_large(name, grid, bound, hidden_cores):
    device = find_device(name)
    config = resolve_model(None).bert_config()            # bert-large, the default model
    rng = derive_batch_range(device, default_schedule_for(device), config)
    assert (rng.min, rng.max, rng.bound) == (1, bound, bound)
    top = rng.probes[rng.max].program
    assert top.grid == grid and top.hidden_cores == hidden_cores
    # The reference's per-op configs (tt-bert-reference.md §3) on the new grids.
    cfg = {op.role: op.program_config.fields for op in top.ops if op.layer == 0 and op.program_config}
    assert (cfg["qkv"]["per_core_M"], cfg["qkv"]["per_core_N"], cfg["qkv"]["out_subblock_w"]) == (12, 12, 6)
    assert (cfg["ff1"]["per_core_N"], cfg["ff1"]["out_subblock_w"]) == (16, 8)
    assert top.peak_l1_bytes_per_core <= device.l1_bytes_per_core
    assert rng.probes[1].ok


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_build_and_run_on_emulator(tmp_path, monkeypatch, small_model, name):
    from runtime.cli import fixed_batch
    from runtime.session import Session

    monkeypatch.setenv("TT_BERT_CACHE", str(tmp_path / "cache"))
    model_dir, model = small_model
    device, schedule = resolve_target(None, name, None, 1, False)
    batch = derive_batch_range(device, default_schedule_for(device), resolve_model(str(model_dir)).bert_config()).max
    assert batch == (8 if name == "wormhole_n150" else 11)
    result = compile_model(batch=batch, device=device, schedule=schedule, model=str(model_dir))
    assert result.manifest["device"] == name and result.manifest["arch"] == device.arch
    write_build(result, tmp_path / "build")
    session = Session(tmp_path / "build", device="emulator", log=lambda m: None)
    try:
        inputs = fixed_batch(batch, 384, 1000)
        start, end = session.predict(**inputs)
        assert session.l1_peak_bytes_per_core() == result.program.peak_l1_bytes_per_core
    finally:
        session.close()
    with torch.no_grad():
        ref = model(**inputs)
    mask = inputs["attention_mask"].bool()
    p_start, p_end = pcc(start[mask], ref.start_logits[mask]), pcc(end[mask], ref.end_logits[mask])
    assert p_start >= 0.98 and p_end >= 0.98, (p_start, p_end)
    with pytest.raises(UserError, match=f"batch {batch + 1} is outside {name}'s derived range 1-{batch}"):
        compile_model(batch=batch + 1, device=device, schedule=schedule, model=str(model_dir))


def test_schedules_lists_derived_ranges(capsys):
    code, out, _ = run_main(cli.main, ["schedules"], capsys)
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "derived" in rows["wormhole_n150"] and "derived" in rows["blackhole_p150"]
    assert "2-12" in rows["grayskull_e150"]


# ---- the guide, followed literally ------------------------------------------------------------

def guide_files() -> dict[str, str]:
    text = GUIDE.read_text(encoding="utf-8")
    return dict(re.findall(r"[Ss]ave as `([^`]+)`:\n\n```yaml\n(.*?)```", text, flags=re.S))


def test_guide_walkthrough_builds_and_runs(tmp_path, monkeypatch, capsys, small_model):
    from runtime import cli as runtime_cli

    files = guide_files()
    assert sorted(files) == ["grayskull_h7.schedule.yaml", "grayskull_h7.yaml"]
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TT_BERT_CACHE", str(tmp_path / "cache"))
    model_dir, model = small_model
    guide = GUIDE.read_text()
    assert "python -m compiler check-schedule grayskull_h7.yaml" in guide
    assert "python -m compiler build --device grayskull_h7.yaml --batch 7" in guide
    assert "python -m runtime run build/grayskull_h7-b7 --device emulator" in guide
    # 3. check
    code, out, err = run_main(cli.main, ["check-schedule", "grayskull_h7.yaml", "--model", str(model_dir)], capsys)
    assert code == 0, err
    assert "batch range 1-7 (derived" in out and "grayskull_h7.schedule.yaml" in out
    # the small model's 8 heads take 4 hidden cores (2 heads each)
    assert len(re.findall(r"^\s+\d+\s+4x\d\s+\d+\s+ok ", out, flags=re.M)) == 7
    # 4. build (and one batch too many)
    code, _, err = run_main(cli.main, ["build", "--device", "grayskull_h7.yaml", "--batch", "8", "--model", str(model_dir),
                                       "-o", "build/too-big"], capsys)
    assert_one_error(code, err, "batch 8 is outside grayskull_h7's derived range 1-7")
    code, out, err = run_main(cli.main, ["build", "--device", "grayskull_h7.yaml", "--batch", "7", "--model", str(model_dir),
                                         "-o", "build/grayskull_h7-b7"], capsys)
    assert code == 0, err
    assert "built" in out and "grid 4x7 ROW_MAJOR" in out
    # 5. run on the emulator, PCC against HF
    code, out, err = run_main(runtime_cli.main, ["run", "build/grayskull_h7-b7", "--device", "emulator",
                                                 "--dump-logits", "logits.npz"], capsys)
    assert code == 0, err
    data = np.load(tmp_path / "logits.npz")
    with torch.no_grad():
        ref = model(**{k: torch.from_numpy(data[k]) for k in ("input_ids", "token_type_ids", "attention_mask")})
    mask = torch.from_numpy(data["attention_mask"]).bool()
    for key, r in (("start_logits", ref.start_logits), ("end_logits", ref.end_logits)):
        assert pcc(torch.from_numpy(data[key])[mask], r[mask]) >= 0.98, key


# ---- check-schedule: validation and errors ----------------------------------------------------

def test_check_schedule_table_for_a_seed(capsys):
    code, out, err = run_main(cli.main, ["check-schedule", "schedules/bert/wormhole_n300.yaml", "--batch", "7"], capsys)
    assert code == 0, err
    assert "batch range 2-7 (typed in the device file" in out
    assert re.search(r"^\s+7\s+8x7\s+56\s+ok\s+\d+\s+\d+%\s+\d+\s+layer0\.attention_scores / layer0\.", out, flags=re.M), out
    # the allocator's plan per op: CB bytes (the reference's softmax: 106,496 B), address, lowest buffer, headroom
    assert re.search(r"layer0\.attention_probs .* 106496 +- +\d+ +\d+$", out, flags=re.M), out
    assert "the reference's QKV-sized L1 reserve before QKV" in out
    assert re.search(r"layer0\.qkv\s+linear\s+MatmulReuseMultiCast M12xN12 in0_w 4 sub 1x6", out), out
    assert re.search(r"layer0\.split_heads .*without: below QKV, with: above QKV", out), out


def test_fits_only_without_circular_buffers_is_refused_in_one_line(capsys):
    """schedules/examples/tiny_6x6: every buffer fits (addresses and fragmentation modelled); the CBs do not."""
    code, out, err = run_main(cli.main, ["check-schedule", "schedules/examples/tiny_6x6.yaml", "--model",
                                         str(ROOT / "models" / "minilm-l6-squad1")], capsys)
    assert_one_error(code, err, "circular buffers fit below the lowest L1 buffer violated (106496 B of circular buffers span "
                                "[105824, 212320) but an L1 buffer starts at")
    assert "change schedule key 'placement.attention'" in err


def _edited(tmp_path, src: str, replace: dict, name: str | None = None) -> Path:
    text = (ROOT / src).read_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / (name or Path(src).name)
    path.write_text(text)
    return path


N150_DEV, N150_SCHED = "schedules/devices/wormhole_n150.yaml", "schedules/bert/wormhole_n150.yaml"


@pytest.mark.parametrize("src,replace,pattern", [
    (N150_DEV, {"l1_bytes_per_core": "l1_byte_per_core"}, "unknown key 'l1_byte_per_core' (did you mean 'l1_bytes_per_core'?)"),
    (N150_DEV, {"compute_grid: {x: 8, y: 8}": "compute_grid: {x: 8, yy: 8}"}, "unknown key 'compute_grid.yy' (did you mean 'y'?)"),
    (N150_DEV, {"dispatch: tensix\n": ""}, "missing key 'dispatch'"),
    (N150_DEV, {"dram: {channels: 12, ": "dram: {"}, "missing key 'dram.channels'"),
    (N150_DEV, {"compute_grid: {x: 8, y: 8}": "compute_grid: {x: 80, y: 8}"}, "compute_grid 80x8 is larger than any Tenstorrent chip"),
    (N150_DEV, {"compute_grid: {x: 8, y: 8}": "compute_grid: {x: 0, y: 8}"}, "'compute_grid.x' must be positive, got 0"),
    (N150_DEV, {"arch: wormhole_b0": "arch: wormhole"}, "'arch' is 'wormhole'; expected one of grayskull, wormhole_b0, blackhole"),
    (N150_DEV, {"tile: [32, 32]": "tile: [16, 16]"}, "'tile' must be [32, 32]"),
    (N150_DEV, {"clock_ghz: 1.0": "clock_ghz: 1.0\nbatch: {min: 4, max: 2}"}, "batch.max 2 is below batch.min 4"),
    (N150_SCHED, {"  hidden_axis: x": "  hiden_axis: x"}, "unknown key 'activation_grid.hiden_axis' (did you mean 'hidden_axis'?)"),
    (N150_SCHED, {"seq_len: 384\n": ""}, "missing key 'seq_len'"),
    (N150_SCHED, {"seq_len: 384": "seq_len: 100"}, "'seq_len' 100 is not a multiple of 32"),
    (N150_SCHED, {"hidden_axis: x": "hidden_axis: z"}, "'activation_grid.hidden_axis' is 'z'; expected one of x, y"),
    (N150_SCHED, {"hidden: BLOCK_SHARDED": "hidden: DRAM"}, "'placement.hidden' is 'DRAM'; expected one of BLOCK_SHARDED"),
    (N150_SCHED, {"weights: DRAM": "weights: HEIGHT_SHARDED"}, "'placement.weights' is 'HEIGHT_SHARDED'; expected one of DRAM, L1_INTERLEAVED"),
    (N150_SCHED, {"overrides: {}": "overrides: {ff3: {in0_block_w: 4}}"}, "unknown op 'overrides.ff3' (did you mean 'ff2'?)"),
    (N150_SCHED, {"device: wormhole_n150": "device: wormhole_n15"}, "no device file for device 'wormhole_n15'"),
])
def test_check_schedule_load_errors(tmp_path, capsys, src, replace, pattern):
    path = _edited(tmp_path, src, replace)
    code, out, err = run_main(cli.main, ["check-schedule", str(path)], capsys)
    assert_one_error(code, err, pattern)


@pytest.mark.parametrize("replace,args,pattern", [
    # impossible grids: more hidden cores than the axis has, a count that does not divide the model
    ({"hidden_cores: auto ": "hidden_cores: 16 "}, ["--batch", "2"],
     "no batch is legal for wormhole_n150 with this schedule: activation_grid: hidden cores fit the device grid violated (16 > 8 cores on grid axis x)"),
    ({"hidden_cores: auto ": "hidden_cores: 3 "}, ["--batch", "2"],
     "hidden cores divide hidden tiles and heads violated (hidden 256 = 8 tiles, 8 heads, hidden_cores 3; legal: [1, 2, 4, 8])"),
    # a legal schedule, a batch beyond the grid's batch axis
    ({}, ["--batch", "9"], "batch 9 is outside wormhole_n150's derived range 1-8"),
    # an override that breaks a matmul rule at every batch
    ({"overrides: {}": "overrides: {ff1: {out_subblock_h: 3, out_subblock_w: 4}}"}, ["--batch", "4"],
     "layer0.ff1: out_subblock_h * out_subblock_w <= 8 violated (3 x 4 = 12); change schedule key 'overrides.ff1.out_subblock_w'"),
])
def test_check_schedule_legality_errors(tmp_path, capsys, small_model, replace, args, pattern):
    path = _edited(tmp_path, N150_SCHED, replace)
    code, out, err = run_main(cli.main, ["check-schedule", str(path), "--model", str(small_model[0]), *args], capsys)
    assert_one_error(code, err, pattern)
    assert "batch  grid" in out          # the table that explains the error came first


def test_check_schedule_typed_range_beyond_grid(tmp_path, capsys, small_model):
    dev = _edited(tmp_path, N150_DEV, {"clock_ghz: 1.0": "clock_ghz: 1.0\nbatch: {min: 8, max: 9}"})
    _edited(tmp_path, N150_SCHED, {}, name="wormhole_n150.schedule.yaml")
    code, out, err = run_main(cli.main, ["check-schedule", str(dev), "--model", str(small_model[0])], capsys)
    assert_one_error(code, err, "batch 9 is in wormhole_n150's typed range 8-9 but illegal: activation_grid: batch fits the grid")
    assert re.search(r"^\s+8\s+4x8\s+32\s+ok", out, flags=re.M) and re.search(r"^\s+9\s+-\s+-\s+NO", out, flags=re.M)


def test_check_schedule_orientation_note(tmp_path, capsys, small_model):
    path = _edited(tmp_path, N150_SCHED, {"hidden_axis: x": "hidden_axis: y"})
    # 8 heads: 4 hidden cores (2 heads each); a shard orientation against the axis works only when batch == 4
    code, out, err = run_main(cli.main, ["check-schedule", str(path), "--model", str(small_model[0]), "--batch", "4"], capsys)
    assert code == 0, err
    assert "hidden on y wants COL_MAJOR" in out


def test_device_without_schedule(tmp_path, capsys, small_model):
    dev = _edited(tmp_path, N150_DEV, {"name: wormhole_n150": "name: my_chip"})
    code, _, err = run_main(cli.main, ["check-schedule", str(dev)], capsys)
    assert_one_error(code, err, "is a valid device file but has no schedule to check against")
    code, _, err = run_main(cli.main, ["build", "--device", str(dev), "--batch", "2", "--model", str(small_model[0]),
                                       "-o", str(tmp_path / "out")], capsys)
    assert_one_error(code, err, "no BERT schedule for device 'my_chip' (looked for")
    assert "pass --schedule FILE" in err and not (tmp_path / "out").exists()
    # A schedule named <name>.schedule.yaml next to it is found; one for another device is refused.
    _edited(tmp_path, N150_SCHED, {"device: wormhole_n150": "device: my_chip"}, name="my_chip.schedule.yaml")
    assert default_schedule_for(load_device(dev)).device == "my_chip"
    code, _, err = run_main(cli.main, ["build", "--device", str(dev), "--batch", "2", "--schedule", N150_SCHED,
                                       "--model", str(small_model[0]), "-o", str(tmp_path / "out")], capsys)
    assert_one_error(code, err, "schedule is for device 'wormhole_n150', not 'my_chip'")


def test_check_schedule_unknown_name_and_usage(capsys):
    code, _, err = run_main(cli.main, ["check-schedule", "wormhole_n15"], capsys)
    assert_one_error(code, err, "unknown device 'wormhole_n15' (did you mean 'wormhole_n150'?)")
    code, _, err = run_main(cli.main, ["check-schedule", "/nonexistent/dev.yaml"], capsys)
    assert_one_error(code, err, "/nonexistent/dev.yaml does not exist")
    code, _, err = run_main(cli.main, ["check-schedule"], capsys)
    assert_one_error(code, err, "the following arguments are required: FILE")


def test_loader_accepts_device_without_batch(tmp_path):
    dev = load_device(_edited(tmp_path, N150_DEV, {}))
    assert dev.batch_max is None and dev.batch_min == 1
    typed = load_device(_edited(tmp_path, N150_DEV, {"clock_ghz: 1.0": "clock_ghz: 1.0\nbatch: {min: 2, max: 6}"}, name="t.yaml"))
    assert (typed.batch_min, typed.batch_max, typed.batch_derived) == (2, 6, False)
    with pytest.raises(ScheduleError, match="unknown key 'batch.maxx' \\(did you mean 'max'\\?\\)"):
        load_device(_edited(tmp_path, N150_DEV, {"clock_ghz: 1.0": "clock_ghz: 1.0\nbatch: {maxx: 6}"}, name="u.yaml"))
    assert load_schedule(ROOT / N150_SCHED).device == "wormhole_n150"


def test_derived_range_min_above_grid(tmp_path, capsys, small_model):
    dev = _edited(tmp_path, N150_DEV, {"clock_ghz: 1.0": "clock_ghz: 1.0\nbatch: {min: 9}"})
    _edited(tmp_path, N150_SCHED, {}, name="wormhole_n150.schedule.yaml")
    code, _, err = run_main(cli.main, ["check-schedule", str(dev), "--model", str(small_model[0])], capsys)
    assert_one_error(code, err, "batch.min 9 is above the 8 cores of grid axis y that carries the batch")
