"""The op registry's stage rules (compiler/ops.py, checked by compiler/passes/pipeline.py), `build --dump-ir`,
lowering that leaves the IR as it found it, and the build target's grid and batch rules (compiler/target.py)."""
from __future__ import annotations

import copy
import dataclasses
from types import SimpleNamespace

import pytest

from compiler import ops
from compiler.cli import main
from compiler.errors import LegalityError, TraceError
from compiler.lower import lower
from compiler.passes import pipeline
from compiler.passes.pipeline import PASSES, STAGES, StageError, check_lowered, check_scheduled, run_passes
from compiler.schedule import default_schedule_for, find_device
from compiler.target import batch_bound, derive_grid
from kernels.common import Call

from bert_helpers import traced


def _with_pass(monkeypatch, name, extra):
    """Replace pass `name` by itself followed by `extra(graph)`."""
    def then_extra(rewrite):
        def run(graph):
            graph = rewrite(graph)
            extra(graph)
            return graph
        return run
    monkeypatch.setattr(pipeline, "PASSES", [(n, then_extra(f) if n == name else f) for n, f in PASSES])


def _add(kind):
    def extra(graph):
        x = graph.inputs()[0]
        graph.add("stray", kind, [x], shape=graph[x]["shape"], dtype="float32")
    return extra


# ---- one reject test per rule ----------------------------------------------------------------------

def test_rule_known_kind(monkeypatch):
    _with_pass(monkeypatch, "fuse_gelu", _add("frobnicate"))
    with pytest.raises(StageError, match="after fuse_gelu: rule known_kind broken: stray has kind 'frobnicate'") as e:
        run_passes(traced("tiny", 2, 64).copy())
    assert (e.value.stage, e.value.rule) == ("fuse_gelu", pipeline.KNOWN_KIND)


@pytest.mark.parametrize("at,kind,first", [("fuse_embeddings", "matmul", "fuse_attention"),
                                           ("lower_heads", "to_sharded", "scheduled")])
def test_rule_not_before_first(monkeypatch, at, kind, first):
    """A pass that makes a kind before the stage the registry gives it (to_sharded: only lowering makes it)."""
    _with_pass(monkeypatch, at, _add(kind))
    with pytest.raises(StageError, match=f"after {at}: rule not_before_first broken: stray is a '{kind}', which "
                                         f"exists from {first} on"):
        run_passes(traced("tiny", 2, 64).copy())


def test_rule_not_after_last(monkeypatch):
    """remove_inference_noops that forgets its job leaves dropout past the stage where it may exist."""
    monkeypatch.setattr(pipeline, "PASSES", [(n, (lambda g: g) if n == "remove_inference_noops" else f)
                                             for n, f in PASSES])
    with pytest.raises(StageError, match=r"after remove_inference_noops: rule not_after_last broken: \S+ is a "
                                         r"'aten.dropout.default', which exists up to traced only"):
        run_passes(traced("tiny", 2, 64).copy())


@pytest.mark.parametrize("kind", ["attention_mask", "aten.add.Tensor", "param"])
def test_rule_not_after_last_when_scheduled(kind):
    """Host ops, aten ops and graph leaves never reach the scheduled program."""
    op = SimpleNamespace(name="stray", kind=kind, call=Call("ttnn.add", []))
    with pytest.raises(StageError, match="after scheduled: rule not_after_last broken"):
        check_scheduled([op])


def test_rule_ttnn_call():
    op = SimpleNamespace(name="layer0.attention_scores", kind="matmul", call=Call("ttnn.linear", []))
    with pytest.raises(StageError, match="rule ttnn_call broken: layer0.attention_scores \\(matmul\\) calls "
                                         "ttnn.linear, not ttnn.matmul"):
        check_scheduled([op])


def test_rule_tt_level_after_passes():
    graph = run_passes(traced("tiny", 2, 32, "BertModel").copy())   # the pooler stays aten: no lowering for it
    with pytest.raises(StageError, match="ops with no TT-NN lowering remain") as e:
        check_lowered(graph)
    assert e.value.rule == pipeline.TT_LEVEL_AFTER_PASSES and isinstance(e.value, TraceError)


# ---- the registry agrees with the real pipeline ----------------------------------------------------

def test_every_stage_named_in_the_registry_exists():
    for spec in [*ops.OPS.values(), ops.ATEN, ops.ATEN_NOOP]:
        assert spec.first in STAGES and spec.last in STAGES, spec.kind
        assert STAGES.index(spec.first) <= STAGES.index(spec.last), spec.kind
        assert (spec.ttnn is None) == (spec.family in ("host", "leaf", "aten")), spec.kind


@pytest.mark.parametrize("arch,task", [("BertForQuestionAnswering", "qa"),
                                       ("BertForSequenceClassification", "sequence-classification"),
                                       ("BertForTokenClassification", "token-classification")])
def test_each_kind_first_appears_where_the_registry_says(arch, task):
    """The registry's first stages are tight: each TT-NN-level kind appears right after the pass that makes it."""
    from compiler.trace import trace_bert
    from bert_helpers import bert_config

    cfg = bert_config("tiny")
    cfg.num_labels = 2 if task == "qa" else 3
    seen: dict[str, str] = {}
    graph = trace_bert(cfg, 2, 64, arch, task=task)
    for stage, rewrite in [(ops.TRACED, None), *PASSES]:
        graph = rewrite(graph) if rewrite else graph
        for n in graph.nodes():
            seen.setdefault(graph.kind(n), stage)
    check_lowered(graph)
    for kind, stage in seen.items():
        if not kind.startswith("aten.") and ops.OPS[kind].family != "leaf":
            assert stage == ops.OPS[kind].first, (kind, stage)


# ---- build --dump-ir -------------------------------------------------------------------------------

def test_build_dump_ir_writes_the_ir_after_each_pass(tmp_path, capsys):
    code = main(["build", "--arch", "gs", "--batch", "2", "--model", "models/minilm-l6-squad1", "--seq-len", "32",
                 "-o", str(tmp_path / "b"), "--dump-ir", str(tmp_path / "ir")])
    assert code == 0, capsys.readouterr().err
    files = sorted(p.name for p in (tmp_path / "ir").iterdir())
    assert files == [f"{i:02d}_{stage}.ir" for i, stage in enumerate(STAGES[:-1])]
    text = {f.split("_", 1)[1][:-3]: (tmp_path / "ir" / f).read_text() for f in files}
    assert "aten.dropout.default" in text["traced"] and "aten.dropout" not in text["remove_inference_noops"]
    assert "= split_heads(" in text["fuse_qkv"] and "= split_heads(" not in text["extract_attention_mask"]
    assert "= split_logits(" in text["lower_qa_head"]
    assert text["lower_heads"] == "unchanged\n"              # a QA model has no other head to lower
    assert (tmp_path / "b" / "program.py").is_file()


def test_build_dump_ir_into_a_file_is_one_error_line(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    code = main(["build", "--arch", "gs", "--batch", "2", "--model", "models/minilm-l6-squad1", "--seq-len", "32",
                 "-o", str(tmp_path / "b"), "--dump-ir", str(tmp_path / "f")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: cannot write --dump-ir"), err


# ---- lowering leaves the IR alone ------------------------------------------------------------------

def _snapshot(graph):
    return graph.dump(params=True), {n: copy.deepcopy(dict(d)) for n, d in graph.g.nodes(data=True)}, dict(graph.meta)


def test_lowering_does_not_edit_the_ir():
    graph = run_passes(traced("tiny", 2, 64).copy())
    device = find_device("wormhole_n300")
    schedule = dataclasses.replace(default_schedule_for(device), seq_len=64)
    before = _snapshot(graph)
    first = lower(graph, device, schedule, 2, model_name="tiny", config_hash="t")
    assert _snapshot(graph) == before
    # the QKV weights are still grouped for the grid (the schedule decides it, the weight spec carries it)
    qkv = next(w for w in first.weights if w.prep == "qkv_weight")
    assert qkv.prep_attrs["groups"] == first.hidden_cores == 2
    again = lower(graph, device, schedule, 2, model_name="tiny", config_hash="t")
    assert [op.call.source() for op in again.ops] == [op.call.source() for op in first.ops]


# ---- the build target --------------------------------------------------------------------------

@pytest.mark.parametrize("device_name", ["grayskull_e150", "wormhole_n300", "wormhole_n300_eth", "wormhole_n150"])
def test_batch_bound_is_where_the_grid_stops(device_name):
    device = find_device(device_name)
    schedule = default_schedule_for(device)
    bound = batch_bound(device, schedule)
    grid, cores, _ = derive_grid(device, schedule, 1024, 16, bound)
    assert bound in grid and cores == 8
    with pytest.raises(LegalityError, match=f"batch {bound + 1} > {bound} cores"):
        derive_grid(device, schedule, 1024, 16, bound + 1)
