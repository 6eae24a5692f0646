"""Programs for the other heads and families (issue 18) pass the real ttnn check too: the fused tanh pooler,
RoBERTa position ids, the embedding postprocess, at a non-default --seq-len on each seed target."""
import sys

import torch
import transformers

from compiler.build import compile_model, device_for_arch, write_build
from conformance.harness import run_program_check

TINY = dict(hidden_size=256, num_hidden_layers=1, num_attention_heads=8, intermediate_size=512)
MODELS = {
    "bert-seq": ("BertForSequenceClassification", transformers.BertConfig(**TINY, vocab_size=600, num_labels=3)),
    "roberta-tok": ("RobertaForTokenClassification", transformers.RobertaConfig(
        **TINY, vocab_size=700, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1, num_labels=5)),
    "bert-embed": ("BertModel", transformers.BertConfig(**TINY, vocab_size=600)),
}
TARGETS = [("gs", 12, False), ("wh", 7, False), ("wh", 8, True)]


def test_head_programs_pass_real_ttnn_check(tmp_path):
    paths = []
    for name, (cls, cfg) in MODELS.items():
        torch.manual_seed(0)
        getattr(transformers, cls)(cfg).save_pretrained(tmp_path / name)
        for arch, batch, eth in TARGETS:
            result = compile_model(batch=batch, device=device_for_arch(arch, batch, eth), model=str(tmp_path / name),
                                   seq_len=128)
            out = tmp_path / f"{name}-{arch}{batch}"
            write_build(result, out)
            paths.append(out / "program.py")
    summary = run_program_check(paths)
    print(f"checked {summary['totals']['ttnn_calls_checked']} ttnn calls in {len(paths)} programs", file=sys.stderr)
    assert summary["ok"] and len(summary["files"]) == len(paths), summary
