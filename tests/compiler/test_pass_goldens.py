"""Per-pass golden IR: for every pass of compiler/passes/pipeline.py, the IR it gets (Before) and the IR it makes
(Expected), as text files under tests/compiler/passes/, from a small traced random BertConfig.

A pass that changes its output changes Expected here, in review. Regenerate after a deliberate change with
UPDATE_GOLDEN=1 and say why in the commit message. The IR is Graph.dump(params=True): every op, its kind, operands,
attributes, shape, dtype and HF module (tensor values never enter the IR: the model lives on the meta device).
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest
from transformers import BertConfig

from compiler.passes import pipeline
from compiler.passes.pipeline import PASSES, check_stage
from compiler.trace import trace_bert

GOLDEN = Path(__file__).parent / "passes"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
BATCH, SEQ = 2, 32
# The pass each architecture exercises that the QA model leaves unchanged: the generic heads' lowering.
ARCHITECTURE = {"lower_heads": ("BertForSequenceClassification", "sequence-classification")}
DEFAULT = ("BertForQuestionAnswering", "qa")


@functools.lru_cache(maxsize=None)
def _traced(architecture: str, task: str):
    cfg = BertConfig(hidden_size=64, num_hidden_layers=1, num_attention_heads=2, intermediate_size=128,
                     vocab_size=100, max_position_embeddings=64, num_labels=2 if task == "qa" else 3)
    cfg._attn_implementation = "eager"
    return trace_bert(cfg, BATCH, SEQ, architecture, task=task)


def _text(graph) -> str:
    return graph.dump(params=True) + "\n"


def _check(path: Path, text: str) -> None:
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"{path} missing: generate it with UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{path.name} differs (UPDATE_GOLDEN=1 if the change is meant)"


@pytest.mark.parametrize("index,name", list(enumerate(n for n, _ in PASSES)))
def test_pass_turns_before_into_expected(index, name):
    graph = _traced(*ARCHITECTURE.get(name, DEFAULT)).copy()
    for _, rewrite in PASSES[:index]:
        graph = rewrite(graph)
    stem = f"{index + 1:02d}_{name}"
    _check(GOLDEN / f"{stem}.before.ir", _text(graph))
    graph = dict(PASSES)[name](graph)
    check_stage(graph, name)
    after = _text(graph)
    _check(GOLDEN / f"{stem}.expected.ir", after)
    assert after != (GOLDEN / f"{stem}.before.ir").read_text(encoding="utf-8"), f"{name} changed nothing on its golden"


def test_goldens_cover_every_pass_and_nothing_else():
    modules = {p.stem for p in Path(pipeline.__file__).parent.glob("*.py")} - {"__init__", "pipeline", "match"}
    assert modules == {n for n, _ in PASSES}                  # every pass module is in the pipeline
    stems = {p.name.split(".")[0] for p in GOLDEN.glob("*.ir")}
    assert stems == {f"{i + 1:02d}_{n}" for i, (n, _) in enumerate(PASSES)}


def test_each_expected_is_the_next_before():
    """The goldens chain: what a pass makes is what the next one gets (same architecture)."""
    names = [n for n, _ in PASSES]
    for i in range(len(names) - 1):
        if ARCHITECTURE.get(names[i], DEFAULT) != ARCHITECTURE.get(names[i + 1], DEFAULT):
            continue
        made = (GOLDEN / f"{i + 1:02d}_{names[i]}.expected.ir").read_text(encoding="utf-8")
        got = (GOLDEN / f"{i + 2:02d}_{names[i + 1]}.before.ir").read_text(encoding="utf-8")
        assert made == got, names[i]
