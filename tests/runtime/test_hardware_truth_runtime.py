"""The emitted programs under ttnn's documented semantics (the emulator's fp32 executor) against HF fp32, the
head-split pairing that would be wrong on a chip, and the device opened the way the program says."""
import hashlib
import json

import pytest
import torch

from compiler.build import compile_model, write_build
from compiler.errors import UserError
from compiler.schedule import find_device
from runtime import emulator

SEEDS = [("grayskull_e150", 3), ("wormhole_n300", 3), ("wormhole_n300_eth", 8)]
WRONG_SPLIT = ("ttnn.experimental.split_query_key_value_and_split_heads(qkv, GRID, num_heads=NUM_HEADS, ",
               "ttnn.transformer.split_query_key_value_and_split_heads(ttnn.reshape(qkv, (BATCH, SEQ_LEN, QKV_WIDTH)), "
               "num_heads=NUM_HEADS, transpose_key=True, ")


def pcc(a, b):
    return torch.corrcoef(torch.stack([a.flatten().double(), b.flatten().double()]))[0, 1].item()


def _build(tmp_path, model_dir, device, batch, edit=None, precision="reference"):
    out = tmp_path / f"{device}-b{batch}-{precision}"
    write_build(compile_model(batch=batch, device=find_device(device), model=str(model_dir), precision=precision), out)
    if edit:
        program = out / "program.py"
        text = program.read_text()
        assert edit[0] in text
        program.write_text(text.replace(*edit))
        manifest = json.loads((out / "manifest.json").read_text())
        manifest["program_sha256"] = hashlib.sha256(program.read_bytes()).hexdigest()
        (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def _pccs(build, model, batch, numerics):
    from runtime.cli import fixed_batch
    from runtime.session import Session

    emulator.set_numerics(numerics)
    try:
        inputs = fixed_batch(batch, 384, 1000)
        start, end = Session(build, device="emulator", log=lambda m: None).predict(**inputs)
    finally:
        emulator.set_numerics("faithful")
    with torch.no_grad():
        ref = model(**inputs)
    mask = inputs["attention_mask"].bool()
    return pcc(start[mask], ref.start_logits[mask]), pcc(end[mask], ref.end_logits[mask])


@pytest.mark.parametrize("device,batch", SEEDS)
def test_program_computes_bert_under_documented_semantics(tmp_path, monkeypatch, small_model, device, batch):
    monkeypatch.setenv("TT_BERT_CACHE", str(tmp_path / "cache"))
    model_dir, model = small_model
    p_start, p_end = _pccs(_build(tmp_path, model_dir, device, batch), model, batch, "fp32")
    assert p_start >= 0.999 and p_end >= 0.999, (p_start, p_end)


@pytest.fixture(scope="module")
def attentive_model(tmp_path_factory):
    """The small BERT with attention weights scaled up, so that which heads attention sees decides the answer
    (with 0.02-scale random weights the residual path hides a wrong head split)."""
    from transformers import BertConfig, BertForQuestionAnswering

    torch.manual_seed(1)
    cfg = BertConfig(hidden_size=256, num_hidden_layers=2, num_attention_heads=8, intermediate_size=1024, vocab_size=1000)
    model = BertForQuestionAnswering(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".attention." in name and name.endswith("weight") and "LayerNorm" not in name:
                p.mul_(8.0)
    d = tmp_path_factory.mktemp("attentive_bert")
    model.save_pretrained(d)
    return d, model


def test_grouped_weights_with_the_interleaved_head_split_are_wrong(tmp_path, monkeypatch, attentive_model):
    """The bug of our first release: ttnn.transformer's sharded split reads heads interleaved (q1 k1 v1 ...), so
    with prepare_weights' grouped columns it hands attention the wrong heads. The emulator must say so."""
    monkeypatch.setenv("TT_BERT_CACHE", str(tmp_path / "cache"))
    model_dir, model = attentive_model
    right = _pccs(_build(tmp_path / "right", model_dir, "wormhole_n300", 3), model, 3, "fp32")
    wrong = _pccs(_build(tmp_path / "wrong", model_dir, "wormhole_n300", 3, WRONG_SPLIT), model, 3, "fp32")
    # the right pairing measures 0.9990 / 0.9990 here with the fast GELU and 0.9996 / 0.9994 with erf GELU:
    # this model's larger activations meet the fast GELU's LUT error
    assert min(right) >= 0.995 and max(wrong) < 0.5, (right, wrong)


def test_accurate_precision_recovers_what_lofi_and_the_fast_functions_cost(tmp_path, monkeypatch, attentive_model):
    """On the chip's number formats, the reference precision (LoFi, fast GELU, approximate exp) loses PCC that
    `--precision accurate` (HiFi2, fp32 Dst, erf GELU, exact exp) gets back; under the fp32 executor the accurate
    build is HF's function exactly. Measured here: reference 0.970 / 0.961, accurate 0.988 / 0.987."""
    monkeypatch.setenv("TT_BERT_CACHE", str(tmp_path / "cache"))
    model_dir, model = attentive_model
    ref = _pccs(_build(tmp_path, model_dir, "wormhole_n300", 3), model, 3, "faithful")
    accurate = _build(tmp_path, model_dir, "wormhole_n300", 3, precision="accurate")
    acc = _pccs(accurate, model, 3, "faithful")
    exact = _pccs(accurate, model, 3, "fp32")
    assert min(acc) >= min(ref) + 0.01 and min(exact) >= 0.9999, (ref, acc, exact)


def test_eth_dispatch_program_opened_with_worker_dispatch_loses_its_eighth_row(tmp_path, monkeypatch, small_model):
    from runtime.session import Session

    monkeypatch.setenv("TT_BERT_CACHE", str(tmp_path / "cache"))
    model_dir, _ = small_model
    build = _build(tmp_path, model_dir, "wormhole_n300_eth", 8, ("ttnn.DispatchCoreType.ETH", "ttnn.DispatchCoreType.WORKER"))
    with pytest.raises(UserError, match=r"compute grid 8x7, smaller than the build's 4x8 \(which needs ETH dispatch\)"):
        Session(build, device="emulator", log=lambda m: None)
