"""The CLI's error contract, deterministic emission, and the golden bert-large WH b7 program."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from compiler.build import compile_model, write_build
from compiler.schedule import find_device

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "bert_large_wh_n300_b7.py"


def run_cli(*args, env=None, cwd=None):
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "compiler", *args], capture_output=True, text=True, env=full_env,
                          cwd=cwd or ROOT, timeout=300)


def assert_usage_error(proc, pattern):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    assert pattern in lines[0], lines[0]


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    cfg = dict(model_type="bert", hidden_size=128, num_hidden_layers=2, num_attention_heads=4, intermediate_size=256,
               vocab_size=512, max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12, hidden_act="gelu")
    (d / "config.json").write_text(json.dumps(cfg))
    return d


@pytest.mark.parametrize("args,env,pattern", [
    (["build", "--arch", "xx", "--batch", "2"], {}, "invalid choice: 'xx'"),
    (["build", "--arch", "gs", "--batch", "13"], {}, "batch 13 is outside grayskull_e150's range 2-12"),
    (["build", "--arch", "wh", "--batch", "8"], {"WH_ARCH_YAML": "wormhole_b0_80_arch_eth_dispatch.yaml"}, "needs the 8x8 grid with ethernet dispatch: pass --eth-dispatch"),
    (["build", "--arch", "wh", "--batch", "7", "--model", "/nonexistent/model"], {}, "model '/nonexistent/model' not found"),
    (["build", "--arch", "wh", "--batch", "0"], {}, "--batch 0"),
    ([], {}, "missing command"),
])
def test_cli_usage_errors(args, env, pattern, tmp_path):
    proc = run_cli(*args, "-o", str(tmp_path / "out")) if args else run_cli()
    assert_usage_error(proc, pattern)
    assert not (tmp_path / "out").exists()


def test_cli_rejects_malformed_and_unknown_schedule_keys(tmp_path, tiny_model_dir):
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("model: bert\ndevice: [unclosed\n")
    assert_usage_error(run_cli("build", "--arch", "wh", "--batch", "2", "--schedule", str(bad_yaml), "-o", str(tmp_path / "o")),
                       "invalid YAML at line")
    text = (ROOT / "schedules" / "bert" / "wormhole_n300.yaml").read_text().replace("math_fidelity", "math_fidelty")
    typo = tmp_path / "typo.yaml"
    typo.write_text(text)
    assert_usage_error(run_cli("build", "--arch", "wh", "--batch", "2", "--schedule", str(typo), "-o", str(tmp_path / "o")),
                       "unknown key 'compute.matmul.math_fidelty' (did you mean 'math_fidelity'?)")
    assert not (tmp_path / "o").exists()


def test_cli_build_writes_program_and_manifest(tmp_path, tiny_model_dir):
    schedule = (ROOT / "schedules" / "bert" / "wormhole_n300.yaml").read_text().replace("seq_len: 384", "seq_len: 128")
    (tmp_path / "s.yaml").write_text(schedule)
    out = tmp_path / "build"
    proc = run_cli("build", "--arch", "wh", "--batch", "3", "--model", str(tiny_model_dir),
                   "--schedule", str(tmp_path / "s.yaml"), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["batch"] == 3 and manifest["arch"] == "wormhole_b0" and manifest["grid"] == [2, 3]
    assert len(manifest["ops"]) == 2 * 11 + 8
    qkv = next(op for op in manifest["ops"] if op["name"] == "layer0.qkv")
    assert qkv["ttnn_op"] == "ttnn.linear" and qkv["program_config"]["per_core_N"] == 6
    assert manifest["peak_l1_bytes_per_core"] == max(op["live_l1_bytes_per_core"] for op in manifest["ops"])
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "program.py"]
    listed = run_cli("schedules")
    assert listed.returncode == 0 and "wormhole_n300_eth" in listed.stdout and "2-12" in listed.stdout


def test_emission_is_deterministic_and_compiles(tmp_path):
    device = find_device("wormhole_n300")
    a = compile_model(batch=7, device=device)
    b = compile_model(batch=7, device=device)
    assert a.source == b.source
    compile(a.source, "program.py", "exec")
    write_build(a, tmp_path / "one")
    write_build(b, tmp_path / "two")
    for name in ("program.py", "manifest.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    # The golden copy shows every change of the emitted bert-large program in review.
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(a.source)
    assert a.source == GOLDEN.read_text(), "emitted program changed: review the diff, then rerun with UPDATE_GOLDEN=1"
    # One layer function serves all 24 layers; every ttnn call names the HF module it implements.
    assert a.source.count("def encoder_layer(") == 1 and "for layer_weights in weights[\"layers\"]" in a.source
    assert a.source.count("ttnn.linear(") == 5
