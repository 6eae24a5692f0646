"""--trace and --mesh builds of a small random BERT: conformance with the real ttnn, the manifest's runner, the CLI's
refusals, and on the emulated mesh every chip's slice equal bit for bit to the single-chip eager program's."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from compiler.build import compile_model, write_build
from compiler.schedule import find_device
from conformance.harness import run_program_check
from runtime.session import Session
from tests.compiler.bert_helpers import hf_model, model_inputs

ROOT = Path(__file__).resolve().parents[2]
SEQ = 128


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    cfg = dict(model_type="bert", hidden_size=128, num_hidden_layers=2, num_attention_heads=4, intermediate_size=256,
               vocab_size=512, max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12, hidden_act="gelu",
               architectures=["BertForQuestionAnswering"])
    (d / "config.json").write_text(json.dumps(cfg))
    return d


@pytest.fixture(scope="module")
def builds(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("builds")
    device = find_device("wormhole_n300_eth")
    made = {}
    for name, kw in {"eager": {}, "trace": {"trace": True}, "mesh_trace": {"trace": True, "mesh_shape": (1, 2)},
                     "mesh": {"mesh_shape": (1, 2)}}.items():
        result = compile_model(batch=4, device=device, model=str(tiny), seq_len=SEQ, **kw)
        write_build(result, out / name)
        made[name] = out / name
    return made


def _predict(build, inputs):
    with Session(build, device="emulator", log=lambda m: None, state_dict=hf_model("tiny").state_dict()) as s:
        return [s.predict(**batch) for batch in inputs]


def _split(inputs, at):
    return {k: v[:at] for k, v in inputs.items()}, {k: v[at:] for k, v in inputs.items()}


def test_manifest_runner_records_trace_mesh_and_region(builds):
    runners = {n: json.loads((b / "manifest.json").read_text())["runner"] for n, b in builds.items()}
    assert runners["eager"] == {"trace": False, "command_queues": 1, "mesh_shape": [1, 1], "chips": 1,
                                "batch_per_chip": 4, "trace_region_size": 0}
    mt = runners["mesh_trace"]
    assert (mt["trace"], mt["command_queues"], mt["mesh_shape"], mt["chips"], mt["batch_per_chip"]) == (
        True, 2, [1, 2], 2, 4)
    assert mt["trace_region_size"] > 0 and mt["trace_region_size"] % 65536 == 0
    assert runners["mesh"]["trace_region_size"] == 0 and runners["mesh"]["command_queues"] == 1


def test_trace_and_mesh_programs_pass_the_real_ttnn_check(builds):
    summary = run_program_check([builds[n] / "program.py" for n in ("trace", "mesh_trace", "mesh")])
    used = set(summary["totals"]["distinct_functions"])
    assert {"ttnn.open_mesh_device", "ttnn.begin_trace_capture", "ttnn.end_trace_capture", "ttnn.execute_trace",
            "ttnn.record_event", "ttnn.wait_for_event", "ttnn.copy_host_to_device_tensor", "ttnn.from_device",
            "ttnn.shard_tensor_to_mesh_mapper", "ttnn.replicate_tensor_to_mesh_mapper", "ttnn.distribute_tensor",
            "ttnn.concat_mesh_to_tensor_composer", "ttnn.release_trace", "ttnn.copy"} <= used


def test_default_forward_leaves_its_callers_inputs_allocated(builds):
    source = (builds["eager"] / "program.py").read_text()
    body = source[source.index("def forward("):source.index("def postprocess(")]
    for name in ("input_ids", "token_type_ids", "position_ids", "extended_attention_mask"):
        assert f"ttnn.deallocate({name})" not in body
    assert "TracedRunner" not in source and "open_mesh_device" not in source


def test_mesh_trace_equals_single_chip_eager_bit_for_bit(builds):
    first, second = model_inputs(8, SEQ, 512, seed=1), model_inputs(8, SEQ, 512, seed=2)
    traced = _predict(builds["mesh_trace"], [first, second])      # capture on the first batch, replay on the second
    eager = _predict(builds["eager"], [*_split(first, 4), *_split(second, 4)])
    for k, batch in enumerate(traced):
        for i in range(2):                                         # start, end logits
            single = torch.cat([eager[2 * k][i], eager[2 * k + 1][i]])
            assert torch.equal(batch[i], single)
    assert not torch.equal(traced[0][0], traced[1][0])


def test_single_chip_trace_and_eager_mesh_equal_eager(builds):
    inputs = model_inputs(4, SEQ, 512, seed=3)
    eager = _predict(builds["eager"], [inputs])[0]
    traced = _predict(builds["trace"], [inputs, inputs])
    for got in traced:
        assert all(torch.equal(a, b) for a, b in zip(got, eager))
    mesh = _predict(builds["mesh"], [model_inputs(8, SEQ, 512, seed=3)])[0]
    halves = _predict(builds["eager"], list(_split(model_inputs(8, SEQ, 512, seed=3), 4)))
    assert torch.equal(mesh[0], torch.cat([halves[0][0], halves[1][0]]))


def _cli(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "compiler", *args], capture_output=True, text=True, cwd=ROOT, env=env)


@pytest.mark.parametrize("args,pattern", [
    (["--arch", "wh", "--batch", "4", "--mesh", "3x"], "--mesh 3x is not ROWSxCOLS"),
    (["--arch", "wh", "--batch", "4", "--mesh", "1x3"], "--mesh 1x3 needs 3 chips; wormhole_n300 comes as N300 (2 chips), T3000 (8 chips)"),
    (["--arch", "wh", "--batch", "4", "--mesh", "4x8"], "needs 32 chips"),
    (["--arch", "gs", "--batch", "4", "--mesh", "1x2"], "grayskull_e150 comes as one chip only"),
    (["--arch", "gs", "--batch", "4", "--trace"], "Grayskull API level v0.55"),
])
def test_cli_refuses_bad_mesh_and_trace(args, pattern, tmp_path, tiny):
    proc = _cli("build", *args, "--model", str(tiny), "-o", str(tmp_path / "o"))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and pattern in lines[0], proc.stderr
    assert not (tmp_path / "o").exists()
