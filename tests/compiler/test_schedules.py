"""Derived program configs equal the reference for the seed targets; other batches and configs are
legal or refused with a reason; crafted bad schedules are rejected by the rule they break."""
from pathlib import Path

import pytest

from compiler.errors import LegalityError, ScheduleError
from compiler.lower import lower
from compiler.passes.pipeline import run_passes
from compiler.schedule import default_schedule_for, find_device, load_schedule

from bert_helpers import traced

# tt-bert-reference.md §3: the same per-op configs for all three seed targets (units: tiles).
REFERENCE = {
    "qkv": ("MatmulMultiCoreReuseMultiCastProgramConfig", dict(in0_block_w=4, out_subblock_h=1, out_subblock_w=6, per_core_M=12, per_core_N=12, fused_activation=None)),
    "attention_scores": ("MatmulMultiCoreReuseProgramConfig", dict(in0_block_w=2, out_subblock_h=1, out_subblock_w=6, per_core_M=24, per_core_N=12)),
    "attention_context": ("MatmulMultiCoreReuseProgramConfig", dict(in0_block_w=12, out_subblock_h=4, out_subblock_w=2, per_core_M=24, per_core_N=2)),
    "self_out": ("MatmulMultiCoreReuseMultiCastProgramConfig", dict(in0_block_w=4, out_subblock_h=2, out_subblock_w=4, per_core_M=12, per_core_N=4, fused_activation=None)),
    "ff1": ("MatmulMultiCoreReuseMultiCastProgramConfig", dict(in0_block_w=4, out_subblock_h=1, out_subblock_w=8, per_core_M=12, per_core_N=16, fused_activation="gelu")),
    "ff2": ("MatmulMultiCoreReuseMultiCastProgramConfig", dict(in0_block_w=16, out_subblock_h=2, out_subblock_w=4, per_core_M=12, per_core_N=4, fused_activation=None)),
    "attention_layernorm": ("LayerNormShardedMultiCoreProgramConfig", dict(subblock_w=4, block_h=12, block_w=4, inplace=True)),
    "output_layernorm": ("LayerNormShardedMultiCoreProgramConfig", dict(subblock_w=4, block_h=12, block_w=4, inplace=True)),
    "attention_probs": ("SoftmaxShardedMultiCoreProgramConfig", dict(subblock_w=6, block_h=24, block_w=12)),
}
SEEDS = [("grayskull_e150", 12, (12, 8), "COL_MAJOR", True),
         ("wormhole_n300", 7, (8, 7), "ROW_MAJOR", False),
         ("wormhole_n300_eth", 8, (8, 8), "ROW_MAJOR", False)]


def _lowered(config, device_name, batch, schedule=None, seq=384):
    graph = run_passes(traced(config, batch, seq).copy())
    device = find_device(device_name)
    return lower(graph, device, schedule or default_schedule_for(device), batch, model_name=config, config_hash="test")


@pytest.mark.parametrize("device_name,batch,grid,orientation,transpose", SEEDS)
def test_seed_configs_equal_reference(device_name, batch, grid, orientation, transpose):
    program = _lowered("large", device_name, batch)
    assert program.grid == grid and program.orientation == orientation
    layer_ops = [op for op in program.ops if op.layer == 5 and op.program_config]
    assert {op.role for op in layer_ops} == set(REFERENCE)
    for op in layer_ops:
        cls, fields = REFERENCE[op.role]
        cfg = op.program_config
        assert cfg.ttnn_class == cls, op.role
        assert cfg.fields["compute_with_storage_grid_size"] == grid
        for key, value in fields.items():
            assert cfg.fields[key] == value, (op.role, key)
        if "transpose_mcast" in cfg.fields:
            assert cfg.fields["transpose_mcast"] is transpose
    # Per-core L1 of the big activations, as in reference §3 (bfloat8_b tiles of 1088 B).
    l1 = {op.role: op.l1_bytes_per_core for op in program.ops if op.layer == 5}
    assert l1["qkv"] == 144 * 1088 and l1["ff1"] == 192 * 1088 and l1["attention_scores"] == 288 * 1088
    assert l1["self_out"] == 48 * 1088
    assert program.peak_l1_bytes_per_core <= find_device(device_name).l1_bytes_per_core


@pytest.mark.parametrize("device_name,batches", [("grayskull_e150", range(2, 13)), ("wormhole_n300", range(2, 8))])
def test_every_batch_in_range_is_legal(device_name, batches):
    for batch in batches:
        program = _lowered("large2", device_name, batch)
        gx, gy = program.grid
        assert (gx if device_name.startswith("gray") else gy) == batch
        assert all(op.program_config.fields["compute_with_storage_grid_size"] == program.grid
                   for op in program.ops if op.program_config)


@pytest.mark.parametrize("config,device_name,hidden_cores", [("base", "wormhole_n300", 6), ("minilm", "wormhole_n300", 6),
                                                             ("minilm", "grayskull_e150", 6), ("base", "grayskull_e150", 6)])
def test_other_configs_derive_another_grid(config, device_name, hidden_cores):
    program = _lowered(config, device_name, 4)
    assert program.hidden_cores == hidden_cores
    assert "2 heads each as the head split reads them" in program.grid_reason


def _schedule_with(tmp_path: Path, device_name: str, replace: dict[str, str]) -> Path:
    text = (Path(__file__).resolve().parents[2] / "schedules" / "bert" / f"{device_name}.yaml").read_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "custom.yaml"
    path.write_text(text)
    return path


# (what the schedule gets wrong, device, file edit, model, batch, the rule's message, the schedule key it names)
_BAD_SCHEDULES = [
    ("hidden_cores_not_dividing_hidden", "wormhole_n300", {"hidden_cores: auto": "hidden_cores: 8"}, "minilm",
     "hidden cores divide hidden tiles and heads.*hidden 384 = 12 tiles", "activation_grid.hidden_cores"),
    ("hidden_cores_larger_than_grid", "wormhole_n300", {"hidden_cores: auto": "hidden_cores: 16"}, "large2",
     "hidden cores fit the device grid", "activation_grid.hidden_cores"),
    ("subblock_over_register_budget", "wormhole_n300",
     {"overrides: {}": "overrides: {ff1: {out_subblock_h: 2, out_subblock_w: 8}}"}, "large2",
     r"layer0.ff1: out_subblock_h \* out_subblock_w <= 8 violated \(2 x 8 = 16\)", "overrides.ff1.out_subblock_w"),
    ("in0_block_w_not_dividing_k", "wormhole_n300", {"overrides: {}": "overrides: {ff2: {in0_block_w: 5}}"}, "large2",
     "K tiles % in0_block_w == 0", "overrides.ff2.in0_block_w"),
    ("per_core_n_not_divisible_by_subblock", "wormhole_n300",
     {"overrides: {}": "overrides: {qkv: {out_subblock_w: 5, out_subblock_h: 1}}"}, "large2",
     "per_core_N % out_subblock_w == 0", "overrides.qkv.out_subblock_w"),
]


@pytest.mark.parametrize("what,device_name,edit,model,pattern,key", _BAD_SCHEDULES, ids=[b[0] for b in _BAD_SCHEDULES])
def test_reject_bad_schedule(tmp_path, what, device_name, edit, model, pattern, key):
    sched = load_schedule(_schedule_with(tmp_path, device_name, edit))
    with pytest.raises(LegalityError, match=pattern) as e:
        _lowered(model, device_name, 4, sched)
    assert e.value.key == key


def test_reject_l1_overflow(tmp_path):
    sched = load_schedule(_schedule_with(tmp_path, "grayskull_e150", {"activations: bfloat8_b": "activations: float32"}))
    # usable L1 = 1,048,576 B - the allocator's reserved base 173,440 B (schedules/devices/grayskull_e150.yaml)
    with pytest.raises(LegalityError, match=r"live L1 per core <= usable L1 \(L1 minus the allocator's reserved base\) "
                                            r"violated \(\d+ B > 875136 B on grayskull_e150\)"):
        _lowered("large2", "grayskull_e150", 12, sched)


def test_reject_unknown_key_with_did_you_mean(tmp_path):
    with pytest.raises(ScheduleError, match="unknown key 'activation_grid.hiden_cores' \\(did you mean 'hidden_cores'\\?\\)"):
        load_schedule(_schedule_with(tmp_path, "wormhole_n300", {"  hidden_cores:": "  hiden_cores:"}))


def test_reject_unknown_override_op(tmp_path):
    with pytest.raises(ScheduleError, match="unknown op 'overrides.ff3' \\(did you mean 'ff2'\\?\\)"):
        load_schedule(_schedule_with(tmp_path, "wormhole_n300", {"overrides: {}": "overrides: {ff3: {in0_block_w: 4}}"}))


def test_reject_bad_dtype_and_missing_key(tmp_path):
    with pytest.raises(ScheduleError, match="'dtypes.activations' is 'bfloat9'; expected one of"):
        load_schedule(_schedule_with(tmp_path, "wormhole_n300", {"activations: bfloat8_b": "activations: bfloat9"}))
    with pytest.raises(ScheduleError, match="missing key 'seq_len'"):
        load_schedule(_schedule_with(tmp_path, "wormhole_n300", {"seq_len: 384\n": ""}))


def test_reject_batch_larger_than_grid():
    with pytest.raises(LegalityError, match="batch fits the grid"):
        graph = run_passes(traced("tiny", 9, 64).copy())
        device = find_device("wormhole_n300_eth")
        sched = default_schedule_for(device)
        object.__setattr__(sched, "seq_len", 64)
        object.__setattr__(device, "batch_max", 16)
        lower(graph, device, sched, 9, model_name="tiny", config_hash="t")
