"""Resolve `--model ID|PATH` to a BertConfig (and a weights location) without any network access."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from . import families
from .errors import UserError, read_regular, short

DEFAULT_MODEL = "phiyodr/bert-large-finetuned-squad2"
_SHIPPED = Path(__file__).parent / "model_configs"


@dataclass(frozen=True)
class ModelSource:
    name: str                 # what the user asked for (hub id or path)
    config_dict: dict         # the checkpoint's config.json
    directory: Path | None    # where weights/tokenizer live locally, if anywhere

    @property
    def config_hash(self) -> str:
        """Hash of the config fields that shape the graph; a build is only valid for this hash."""
        keys = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size",
                "max_position_embeddings", "type_vocab_size", "hidden_act", "layer_norm_eps",
                "position_embedding_type", "model_type")
        if self.config_dict.get("model_type") != "bert":   # RoBERTa positions count from padding_idx + 1
            keys += ("pad_token_id",)
        blob = json.dumps({k: self.config_dict.get(k) for k in keys}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def family(self) -> str:
        return families.family_of(self.name, self.config_dict.get("model_type"))

    def bert_config(self):
        """The checkpoint's transformers config (BertConfig, RobertaConfig, XLMRobertaConfig), checked to tile."""
        import transformers

        family = self.family
        cls = getattr(transformers, families.FAMILIES[family].config_class)
        try:
            cfg = cls(**{k: v for k, v in self.config_dict.items() if k not in ("architectures", "transformers_version")})
        except Exception as e:  # a hand-edited config.json with values the config class refuses
            raise UserError(f"model '{self.name}': config.json is not a usable {cls.__name__} "
                            f"({e.__class__.__name__}: {' '.join(str(e).split())[:200]}); fix or re-save config.json") from None
        for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size",
                    "max_position_embeddings", "type_vocab_size"):
            value = getattr(cfg, key, None)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise UserError(f"model '{self.name}': config.json '{key}' is {short(value)}; it must be a positive integer")
        if cfg.hidden_size % cfg.num_attention_heads:
            raise UserError(f"model '{self.name}': config.json 'hidden_size' {cfg.hidden_size} is not a multiple of "
                            f"'num_attention_heads' {cfg.num_attention_heads}; fix config.json")
        families.check_supported(self.name, family, cfg)
        cfg._attn_implementation = "eager"  # explicit matmul/softmax ops to fuse, instead of an opaque sdpa call
        return cfg

    @property
    def task(self) -> str:
        """The head the checkpoint was saved with (config.json `architectures`); QA when it names none."""
        return families.task_of(self.name, self.config_dict.get("architectures"))

    def sentence_pooling(self) -> dict:
        """sentence-transformers' pooling for this checkpoint (1_Pooling/config.json, a Normalize module), else mean."""
        return families.sentence_pooling(self.directory)


def _hf_cache_dirs(model_id: str) -> list[Path]:
    root = Path(os.environ.get("HF_HUB_CACHE") or Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub")
    snaps = root / f"models--{model_id.replace('/', '--')}" / "snapshots"
    return sorted(snaps.glob("*"), reverse=True) if snaps.is_dir() else []


def _read_config(path: Path, name: str) -> dict:
    try:
        data = json.loads(read_regular(path).decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"cannot read model config {path}: {e.__class__.__name__}: {e}; "
                        f"point --model at a directory holding a valid config.json") from None
    except RecursionError:
        raise UserError(f"model config {path}: JSON nested too deeply; a config.json is a flat object of "
                        f"numbers and names, re-save it with save_pretrained()") from None
    except ValueError as e:   # json refuses integers of more than 4300 digits with a plain ValueError
        problem = "an integer has more than 4300 digits" if "integer string conversion" in str(e) else str(e)[:120]
        raise UserError(f"model config {path}: unusable value ({problem}); give real numbers in config.json") from None
    if not isinstance(data, dict):
        raise UserError(f"model config {path} is not a JSON object; point --model at a valid checkpoint")
    return data


def resolve_model(name: str | None) -> ModelSource:
    name = name or DEFAULT_MODEL
    packaged = families.packaged_model_dir(name)   # a model a pip package ships (all-MiniLM-L6-v2)
    p = packaged or Path(name)
    if p.exists():
        cfg_file = p / "config.json" if p.is_dir() else p
        if cfg_file.exists() and not cfg_file.is_file():   # a FIFO would block the read
            raise UserError(f"--model {name}: {cfg_file} is not a regular file; point --model at a checkpoint directory "
                            f"whose config.json is a file")
        if not cfg_file.is_file():
            raise UserError(f"--model {name}: no config.json in that directory; pass a Hugging Face checkpoint directory")
        return ModelSource(name, _read_config(cfg_file, name), cfg_file.parent)
    for snap in _hf_cache_dirs(name):
        if (snap / "config.json").is_file():
            return ModelSource(name, _read_config(snap / "config.json", name), snap)
    shipped = _SHIPPED / (name.replace("/", "--") + ".json")
    if shipped.is_file():
        return ModelSource(name, _read_config(shipped, name), None)
    raise UserError(f"model '{name}' not found: not a local path, not in the local Hugging Face cache, not shipped; "
                    f"pass --model /path/to/checkpoint_dir (with config.json)")
