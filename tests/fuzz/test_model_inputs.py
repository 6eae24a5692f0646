"""Odd checkpoints and damaged build directories: one clear refusal (exit 2, one `error:` line naming the
mismatch) from `python -m compiler build --model DIR` and `python -m runtime run BUILD --model DIR`."""
import contextlib
import copy
import io
import json
import shutil
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st
from safetensors.torch import save_file
from transformers import BertConfig, BertForQuestionAnswering

from fuzz_helpers import assert_one_error_line, structural_mutation, text_mutation

GPT2_CONFIG = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_embd": 768, "n_head": 12, "n_layer": 12,
               "n_positions": 1024, "vocab_size": 50257}


def _cli(which, argv):
    from compiler.cli import main as compiler_main
    from runtime.cli import main as runtime_main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = (compiler_main if which == "compiler" else runtime_main)(argv)
    return rc, err.getvalue()


def _refused(which, argv, *needles):
    rc, err = _cli(which, argv)
    assert rc == 2, (rc, err)
    assert_one_error_line(rc, err, [""])
    for n in needles:
        assert n in err, (n, err)
    return err


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.manual_seed(0)
    cfg = BertConfig(hidden_size=128, num_hidden_layers=2, num_attention_heads=4, intermediate_size=512, vocab_size=1000)
    d = tmp_path_factory.mktemp("tiny") / "model"
    model = BertForQuestionAnswering(cfg)
    model.save_pretrained(d)
    return d, {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def build(tiny, tmp_path_factory):
    from compiler.build import compile_model, write_build
    from compiler.schedule import find_device

    out = tmp_path_factory.mktemp("b") / "build"
    write_build(compile_model(batch=2, device=find_device("grayskull_e150"), model=str(tiny[0])), out)
    return out


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TT_BERT_CACHE", str(tmp_path / "cache"))


def _variant(tmp_path, tiny, *, config=None, tensors=None, weights_bytes=None):
    d = tmp_path / "variant"
    d.mkdir()
    cfg = json.loads((tiny[0] / "config.json").read_text())
    (d / "config.json").write_text(json.dumps(config if config is not None else cfg))
    if weights_bytes is not None:
        (d / "model.safetensors").write_bytes(weights_bytes)
    elif tensors is not None:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(d / "model.safetensors"))
    else:
        shutil.copy(tiny[0] / "model.safetensors", d / "model.safetensors")
    return d


def test_gpt2_checkpoint_is_refused(tmp_path, tiny, build):
    d = _variant(tmp_path, tiny, config=GPT2_CONFIG)
    _refused("compiler", ["build", "--arch", "gs", "--batch", "2", "--model", str(d), "-o", str(tmp_path / "o")],
             "model_type 'gpt2'", "not 'bert'")
    assert not (tmp_path / "o").exists()
    _refused("runtime", ["run", str(build), "--model", str(d), "--device", "emulator"], "model_type 'gpt2'")


def test_config_that_does_not_match_the_build(tmp_path, tiny, build):
    cfg = json.loads((tiny[0] / "config.json").read_text())
    cfg["intermediate_size"] = 256
    d = _variant(tmp_path, tiny, config=cfg)
    _refused("runtime", ["run", str(build), "--model", str(d), "--device", "emulator"],
             "config hash", "intermediate_size 256 vs 512")


@pytest.mark.parametrize("drop", ["qa_outputs.weight", "bert.encoder.layer.1.attention.self.key.bias",
                                  "bert.embeddings.word_embeddings.weight"])
def test_missing_tensor(tmp_path, tiny, build, drop):
    tensors = {k: v for k, v in tiny[1].items() if k != drop}
    d = _variant(tmp_path, tiny, tensors=tensors)
    _refused("runtime", ["run", str(build), "--model", str(d), "--device", "emulator"], f"lacks tensor '{drop}'")


@pytest.mark.parametrize("key,shape", [("bert.encoder.layer.0.intermediate.dense.weight", (512, 64)),
                                       ("qa_outputs.weight", (3, 128)), ("bert.embeddings.LayerNorm.bias", (127,))])
def test_wrong_shape(tmp_path, tiny, build, key, shape):
    tensors = dict(tiny[1])
    tensors[key] = torch.zeros(shape)
    d = _variant(tmp_path, tiny, tensors=tensors)
    _refused("runtime", ["run", str(build), "--model", str(d), "--device", "emulator"], f"'{key}' has shape {list(shape)}")


@pytest.mark.parametrize("payload", [b"", b"not a safetensors file", b"\x08\x00\x00\x00\x00\x00\x00\x00{}"])
def test_damaged_weight_file(tmp_path, tiny, build, payload):
    d = _variant(tmp_path, tiny, weights_bytes=payload)
    _refused("runtime", ["run", str(build), "--model", str(d), "--device", "emulator"], "model.safetensors")


@pytest.mark.parametrize("config", [
    "not json", "[]", '{"model_type": "bert", "hidden_size": "big"}', '{"model_type": "bert", "num_attention_heads": 0}',
    '{"model_type": "bert", "hidden_size": 100, "num_attention_heads": 12}', '{"model_type": "bert", "vocab_size": -5}',
    '{"model_type": "bert", "hidden_act": "nope"}', '{"model_type": "bert", "max_position_embeddings": 64}',
    '{"model_type": "llama"}', '{}',
])
def test_hostile_config_json_on_build(tmp_path, config):
    d = tmp_path / "m"
    d.mkdir()
    (d / "config.json").write_text(config)
    _refused("compiler", ["build", "--arch", "gs", "--batch", "2", "--model", str(d), "-o", str(tmp_path / "o")])
    assert not (tmp_path / "o").exists()


def test_checkpoint_without_weights_or_config(tmp_path, build):
    (tmp_path / "empty").mkdir()
    _refused("compiler", ["build", "--arch", "gs", "--batch", "2", "--model", str(tmp_path / "empty")], "no config.json")
    _refused("runtime", ["run", str(build), "--model", str(tmp_path / "empty"), "--device", "emulator"], "no config.json")


def test_mutated_manifest(build, tmp_path_factory, fuzz_scale, case_counter):
    """A hand-edited or damaged manifest.json is refused with one line (runtime/build_dir.py)."""
    from compiler.errors import UserError
    from runtime.build_dir import load_build

    tmp = tmp_path_factory.mktemp("manifest")
    (tmp / "build").mkdir()
    shutil.copy(build / "program.py", tmp / "build" / "program.py")
    manifest = json.loads((build / "manifest.json").read_text())
    small = {k: v for k, v in manifest.items() if k != "ops"}   # keep the mutations on the fields the runtime reads

    @settings(max_examples=60 * fuzz_scale, deadline=None, database=None, derandomize=fuzz_scale == 1,
              suppress_health_check=list(HealthCheck))
    @given(st.one_of(structural_mutation(small).map(lambda d: json.dumps({**manifest, **d} if isinstance(d, dict) else d).encode()),
                     text_mutation(json.dumps(small))))
    def run(data):
        case_counter["manifest json"] += 1
        (tmp / "build" / "manifest.json").write_bytes(data)
        try:
            load_build(tmp / "build")
        except UserError as e:
            assert "\n" not in str(e)

    run()
