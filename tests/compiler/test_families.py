"""BERT-family encoders, heads and sequence lengths (issue 18): random-weight models traced from transformers'
classes through every pass, the interpreter and the emulator, PCC against HF; --seq-len; refusals."""
import json

import pytest
import torch
import transformers

from compiler import cli
from compiler.build import compile_model, device_for_arch, write_build
from compiler.interpreter import run as interpret
from compiler.model_source import ModelSource
from compiler.ops import position_ids
from compiler.passes.pipeline import check_lowered, run_passes
from compiler.trace import trace_bert

TINY = dict(hidden_size=128, num_hidden_layers=1, num_attention_heads=4, intermediate_size=256)
ROBERTA = dict(TINY, vocab_size=700, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1)
# (model class, config class, config fields, task)
CASES = {
    "bert-qa": ("BertForQuestionAnswering", "BertConfig", dict(TINY, vocab_size=600), "qa"),
    "bert-embed": ("BertModel", "BertConfig", dict(TINY, vocab_size=600), "embed"),
    "bert-seq": ("BertForSequenceClassification", "BertConfig", dict(TINY, vocab_size=600, num_labels=3),
                 "sequence-classification"),
    "bert-tok": ("BertForTokenClassification", "BertConfig", dict(TINY, vocab_size=600, num_labels=5),
                 "token-classification"),
    "roberta-seq": ("RobertaForSequenceClassification", "RobertaConfig", dict(ROBERTA, num_labels=2),
                    "sequence-classification"),
    "xlmr-embed": ("XLMRobertaModel", "XLMRobertaConfig", dict(ROBERTA, vocab_size=900), "embed"),
    "camembert-tok": ("CamembertForTokenClassification", "CamembertConfig", dict(ROBERTA, num_labels=4),
                      "token-classification"),
}
TARGETS = {"gs12": ("gs", 12, False), "wh7": ("wh", 7, False), "wh8": ("wh", 8, True)}


def pcc(a, b):
    return torch.corrcoef(torch.stack([a.flatten().double(), b.flatten().double()]))[0, 1].item()


def _model(case):
    cls, cfg_cls, fields, _ = CASES[case]
    torch.manual_seed(0)
    cfg = getattr(transformers, cfg_cls)(**fields)
    cfg._attn_implementation = "eager"   # as the compiler traces it
    model = getattr(transformers, cls)(cfg, **(
        {"add_pooling_layer": False} if cls.endswith("Model") else {})).eval()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "LayerNorm" in n:
                p.add_(torch.randn_like(p) * 0.1)
    return model


def _inputs(model, batch, seq, seed=1):
    cfg = model.config
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, cfg.vocab_size, (batch, seq), generator=g)
    mask = torch.ones(batch, seq, dtype=torch.long)
    for b in range(batch):
        mask[b, seq - (b * seq) // (2 * batch):] = 0
    types = torch.zeros(batch, seq, dtype=torch.long)
    if cfg.type_vocab_size > 1:
        types[:, seq // 3:] = 1
    if cfg.model_type != "bert":
        ids = torch.where(mask.bool(), ids, cfg.pad_token_id)   # RoBERTa positions depend on where the pads are
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}


def _reference(model, task, inputs):
    with torch.no_grad():
        out = model(**inputs)
    if task == "qa":
        return torch.stack([out.start_logits, out.end_logits])
    if task == "embed":
        m = inputs["attention_mask"][..., None].float()
        return (out.last_hidden_state * m).sum(1) / m.sum(1)
    return out.logits


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("families")
    out = {}
    for case in CASES:
        model = _model(case)
        model.save_pretrained(root / case)
        out[case] = (root / case, model)
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_interpreter_matches_hf(case):
    """The rewritten graph (every pass) computes what the transformers class computes, in fp32."""
    model = _model(case)
    task = CASES[case][3]
    graph = run_passes(trace_bert(model.config, 2, 64, CASES[case][0], task=task))
    check_lowered(graph)
    inputs = _inputs(model, 2, 64)
    pos = graph.attrs("position_ids")
    got = interpret(graph, {**inputs, "position_ids": position_ids(inputs["input_ids"], **pos)}, model.state_dict())
    values = list(got.values())
    got = torch.stack(values) if task == "qa" else values[0]
    assert pcc(got, _reference(model, task, inputs)) > 0.99999
    assert pos["synthesized"] == ("arange" if model.config.model_type == "bert" else "padding_offset")


@pytest.mark.parametrize("seq", [128, 256])
@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("case", [c for c in CASES if c != "camembert-tok"])   # RoBERTa's graph: interpreter only
def test_emulator_pcc(tmp_path, monkeypatch, checkpoints, case, target, seq):
    from runtime.session import Session

    monkeypatch.setenv("TT_BERT_CACHE", str(tmp_path / "cache"))
    model_dir, model = checkpoints[case]
    arch, batch, eth = TARGETS[target]
    task = CASES[case][3]
    result = compile_model(batch=batch, device=device_for_arch(arch, batch, eth), model=str(model_dir), seq_len=seq,
                           task=task)
    m = result.manifest
    assert (m["task"], m["seq_len"], m["model"]["architecture"]) == (task, seq, CASES[case][0])
    write_build(result, tmp_path / "build")
    inputs = _inputs(model, batch, seq)
    with Session(tmp_path / "build", device="emulator", log=lambda s: None) as session:
        got = session.predict(**inputs)
    got = torch.stack(got) if task == "qa" else got
    ref = _reference(model, task, inputs)
    assert got.shape == ref.shape
    if ref.dim() >= 3:   # per-token outputs: padded positions are not read
        keep = inputs["attention_mask"].bool()
        keep = keep[None, ..., ] if task == "qa" else keep[..., None]
        got, ref = got[keep.expand_as(ref)], ref[keep.expand_as(ref)]
    assert pcc(got, ref) >= 0.99, (case, target, seq)


def test_wrong_head_order_fails_the_check(checkpoints):
    """The PCC check can fail: label logits of the wrong row (the last token instead of [CLS]) are far off."""
    _, model = checkpoints["bert-seq"]
    inputs = _inputs(model, 4, 64)
    with torch.no_grad():
        h = model.bert(**inputs).last_hidden_state
        wrong = model.classifier(model.bert.pooler.activation(model.bert.pooler.dense(h[:, -1])))
    assert pcc(wrong, _reference(model, "sequence-classification", inputs)) < 0.9


def test_embed_program_records_pooling(tmp_path, checkpoints):
    model_dir, _ = checkpoints["bert-embed"]
    (model_dir / "modules.json").write_text(json.dumps([{"idx": 0, "name": "0", "path": "", "type": "x.Transformer"},
                                                        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "x.Pooling"},
                                                        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "x.Normalize"}]))
    (model_dir / "1_Pooling").mkdir(exist_ok=True)
    (model_dir / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    try:
        result = compile_model(batch=7, device=device_for_arch("wh", 7, False), model=str(model_dir), task="embed",
                               seq_len=128)
    finally:
        (model_dir / "modules.json").unlink()
    assert result.manifest["head"] == {"kind": "pool", "mode": "cls", "normalize": True}
    assert 'POOLING = "cls"' in result.source and "NORMALIZE = True" in result.source


def test_task_from_config_architectures(checkpoints):
    for case, (cls, _, _, task) in CASES.items():
        cfg = json.loads((checkpoints[case][0] / "config.json").read_text())
        assert ModelSource(case, cfg, None).task == task, case


def test_roberta_program_positions(checkpoints):
    """prepare_inputs makes RoBERTa's position ids from the token ids, as transformers does."""
    model_dir, model = checkpoints["roberta-seq"]
    result = compile_model(batch=7, device=device_for_arch("wh", 7, False), model=str(model_dir), seq_len=128)
    assert "PADDING_IDX = 1" in result.source and 'hf = f"roberta.encoder.layer.{i}."' in result.source
    from transformers.models.roberta.modeling_roberta import RobertaEmbeddings

    ids = _inputs(model, 3, 64)["input_ids"]
    assert torch.equal(position_ids(ids, synthesized="padding_offset", padding_idx=1),
                       RobertaEmbeddings.create_position_ids_from_input_ids(ids, 1))


def _one_error(argv, capsys, *needles):
    code = cli.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    for n in needles:
        assert n in err[0], err[0]


@pytest.mark.parametrize("seq,needle", [(100, "not a positive multiple of 32"), (0, "not a positive multiple"),
                                        (1024, "max_position_embeddings 512")])
def test_seq_len_refusals(tmp_path, capsys, seq, needle):
    _one_error(["build", "--arch", "gs", "--batch", "12", "--model", "models/minilm-l6-squad1", "--seq-len", str(seq),
                "-o", str(tmp_path / "o")], capsys, needle)
    assert not (tmp_path / "o").exists()


def test_roberta_seq_len_limit(tmp_path, capsys, checkpoints):
    _one_error(["build", "--arch", "wh", "--batch", "7", "--model", str(checkpoints["roberta-seq"][0]), "--seq-len", "544",
                "-o", str(tmp_path / "o")], capsys, "--seq-len 544", "minus padding_idx + 1", "<= 512")


@pytest.mark.parametrize("fields,needle", [
    (dict(model_type="albert", embedding_size=128), "ALBERT shares one layer's weights"),
    (dict(model_type="distilbert"), "DistilBERT"),
    (dict(model_type="bert", hidden_size=96, num_attention_heads=3), "hidden_size 96"),
    (dict(model_type="bert", hidden_size=128, num_attention_heads=8), "head size 16"),
    (dict(model_type="bert", intermediate_size=1000), "intermediate_size 1000"),
    (dict(model_type="bert", position_embedding_type="relative_key"), "relative_key"),
    (dict(model_type="bert", architectures=["BertForMultipleChoice"]), "names no supported head"),
])
def test_unsupported_models_refused(tmp_path, capsys, fields, needle):
    cfg = dict(TINY, vocab_size=600, **fields)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    _one_error(["build", "--arch", "wh", "--batch", "7", "--model", str(tmp_path / "m"), "-o", str(tmp_path / "o")],
               capsys, needle)


def test_qa_demo_stride_fits_the_length():
    from runtime.qa.features import check_window_params, doc_stride_for

    for seq in (128, 256, 384, 512):
        check_window_params(seq, doc_stride_for(seq))
    assert doc_stride_for(384) == 128


def test_embed_build_from_a_classifier_checkpoint(tmp_path, monkeypatch, checkpoints):
    """--task embed on a task checkpoint reads its encoder (bert.* tensors) and pools its hidden states."""
    from runtime.session import Session

    monkeypatch.setenv("TT_BERT_CACHE", str(tmp_path / "cache"))
    model_dir, model = checkpoints["bert-seq"]
    result = compile_model(batch=7, device=device_for_arch("wh", 7, False), model=str(model_dir), seq_len=128,
                           task="embed")
    write_build(result, tmp_path / "build")
    inputs = _inputs(model, 7, 128)
    with Session(tmp_path / "build", device="emulator", log=lambda s: None) as session:
        got = session.predict(**inputs)
    assert pcc(got, _reference(model.bert, "embed", inputs)) >= 0.99
