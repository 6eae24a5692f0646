"""The interpreter reproduces Hugging Face before and after every rewrite pass (differential tests)."""
import pytest
import torch

from compiler import interpreter
from compiler.passes.pipeline import PASSES, check_lowered
from compiler.errors import TraceError

from bert_helpers import CONFIGS, hf_model, interpreter_inputs, model_inputs, traced

TOL = 1e-4


def _compare(graph, model, inputs, seq, names):
    out = interpreter.run(graph, interpreter_inputs(inputs, seq), model.state_dict())
    with torch.no_grad():
        ref = model(**inputs)
    for name in names:
        diff = (out[name] - getattr(ref, name)).abs().max().item()
        assert diff <= TOL, f"{name}: max abs diff {diff}"


@pytest.mark.parametrize("config,seq", [("tiny", 64), ("base", 64), ("large", 64)])
def test_interpreter_matches_hf_after_every_pass(config, seq):
    batch = 2
    graph = traced(config, batch, seq).copy()
    model = hf_model(config)
    inputs = model_inputs(batch, seq, CONFIGS[config]["vocab_size"])
    _compare(graph, model, inputs, seq, ["start_logits", "end_logits"])
    for name, rewrite in PASSES:
        graph = rewrite(graph)
        _compare(graph, model, inputs, seq, ["start_logits", "end_logits"])
    check_lowered(graph)


def test_lowered_layer_is_the_reference_op_sequence():
    graph = traced("tiny", 2, 64).copy()
    for _, rewrite in PASSES:
        graph = rewrite(graph)
    layer0 = [graph.kind(n) for n in graph.nodes() if graph[n]["module"].startswith("bert.encoder.layer.0.")
              and graph.kind(n) not in ("getitem", "param")]
    assert layer0 == ["linear", "split_heads", "matmul", "scale_mask_softmax", "matmul", "concat_heads",
                      "linear", "layer_norm", "linear", "linear", "layer_norm"]
    ff1 = next(n for n in graph.nodes() if graph.attrs(n).get("role") == "ff1")
    assert graph.attrs(ff1)["activation"] == "gelu"
    assert all(graph.attrs(n)["residual"] for n in graph.nodes("layer_norm"))


def test_ir_follows_the_config():
    """Change the config and the IR changes with it: nothing about BERT's size is hard-coded."""
    small = traced("tiny", 2, 64)
    big = traced("base", 2, 64)
    assert len(big.nodes("param")) > len(small.nodes("param"))
    assert small.meta["num_layers"] == 2 and big.meta["num_layers"] == 12
    q = next(n for n in small.nodes() if small.kind(n) == "aten.linear.default")
    assert small[q]["shape"][-1] == 128


def test_bert_model_traces_and_interprets_but_has_no_lowering():
    graph = traced("tiny", 2, 32, "BertModel").copy()
    model = hf_model("tiny", "BertModel")
    inputs = model_inputs(2, 32, CONFIGS["tiny"]["vocab_size"])
    _compare(graph, model, inputs, 32, ["last_hidden_state", "pooler_output"])
    for _, rewrite in PASSES:
        graph = rewrite(graph)
    _compare(graph, model, inputs, 32, ["last_hidden_state", "pooler_output"])
    with pytest.raises(TraceError, match="no TT-NN lowering"):
        check_lowered(graph)
