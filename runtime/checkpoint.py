"""Find and read a BERT checkpoint offline (local directory or local HF cache; safetensors or bin)."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from compiler.errors import UserError
from compiler.model_source import ModelSource, resolve_model

_SINGLE = ("model.safetensors", "pytorch_model.bin")
_INDEX = ("model.safetensors.index.json", "pytorch_model.bin.index.json")


@dataclass
class Checkpoint:
    source: ModelSource
    files: list[Path]
    architecture: str = "BertForQuestionAnswering"

    def weight_hash(self) -> str:
        """sha256 of the weight files, remembered per (path, size, mtime) so unchanged checkpoints hash once."""
        h = hashlib.sha256()
        for f in self.files:
            h.update(_file_hash(f).encode())
        return h.hexdigest()

    def state_dict(self) -> dict[str, torch.Tensor]:
        sd: dict[str, torch.Tensor] = {}
        for f in self.files:
            try:
                if f.suffix == ".safetensors":
                    from safetensors.torch import load_file

                    sd.update(load_file(str(f)))
                else:
                    sd.update(torch.load(f, map_location="cpu", weights_only=True))
            except Exception as e:  # any decoder error means the file is damaged, not a bug of ours
                raise UserError(f"cannot read weights {f}: {e.__class__.__name__}: {str(e).splitlines()[0] if str(e) else ''}; "
                                "re-download or re-save the checkpoint") from None
        if self.architecture.endswith("Model"):   # an embed build from a task checkpoint reads its encoder
            sd = encoder_state_dict(sd)
        check_tensors(sd, self.source, self.files[0].parent, self.architecture)
        return {k: v.float() for k, v in sd.items()}


def encoder_state_dict(sd: dict) -> dict:
    """A task checkpoint's encoder tensors under the bare model's names (bert.embeddings.x -> embeddings.x)."""
    if any(k.startswith("embeddings.") for k in sd):
        return sd
    for prefix in ("bert.", "roberta."):
        if any(k.startswith(prefix + "embeddings.") for k in sd):
            return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
    return sd


def expected_tensors(source: ModelSource, architecture: str = "BertForQuestionAnswering") -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes of the build's model class for the checkpoint's config (built on the meta device);
    a bare encoder (sentence embeddings) without its pooler, which the program does not read."""
    from compiler.trace import build_meta_model

    model = build_meta_model(source.bert_config(), architecture, pooler=not architecture.endswith("Model"))
    return {name: tuple(p.shape) for name, p in model.named_parameters()}


def check_tensors(sd: dict, source: ModelSource, where: Path, architecture: str = "BertForQuestionAnswering") -> None:
    """Refuse a state dict that lacks a tensor the program reads or holds one of the wrong shape."""
    expected = expected_tensors(source, architecture)
    missing = [k for k in expected if k not in sd]
    if missing:
        what = "question-answering" if architecture.endswith("QuestionAnswering") else architecture
        raise UserError(f"checkpoint {where} lacks tensor '{missing[0]}'" + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
                        + f" that a {architecture} with its config.json has; point --model at a complete "
                        f"{'BERT ' + what if what == 'question-answering' else what} checkpoint")
    for k, shape in expected.items():
        got = tuple(sd[k].shape) if hasattr(sd[k], "shape") else None
        if got != shape:
            raise UserError(f"checkpoint {where}: tensor '{k}' has shape {list(got) if got is not None else got} but its "
                            f"config.json implies {list(shape)}; the weights do not match the config, re-save the checkpoint")


def _file_hash(path: Path) -> str:
    st = path.stat()
    memo_dir = Path(os.environ.get("TT_BERT_CACHE") or Path.home() / ".cache" / "tt-bert-compiler") / "file-hashes"
    memo = memo_dir / hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()
    try:
        value = memo.read_text().strip()
        if len(value) == 64:
            return value
    except OSError:
        pass
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 24):
            h.update(chunk)
    value = h.hexdigest()
    try:
        memo_dir.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(value)
        os.replace(tmp, memo)
    except OSError:
        pass  # a read-only cache only costs the re-hash next time
    return value


# manifest "model" field -> config.json field, to name what differs when the config hashes do not match
_MANIFEST_FIELDS = {"hidden_size": "hidden_size", "num_heads": "num_attention_heads", "num_layers": "num_hidden_layers",
                    "intermediate_size": "intermediate_size", "vocab_size": "vocab_size"}


def find_checkpoint(model: str | None, expected_config_hash: str | None = None, expected: dict | None = None) -> Checkpoint:
    src = resolve_model(model)
    src.bert_config()     # refuses non-BERT architectures by name before comparing hashes
    if expected_config_hash and src.config_hash != expected_config_hash:
        diffs = [f"{cfg_key} {src.config_dict.get(cfg_key)} vs {expected[key]}" for key, cfg_key in _MANIFEST_FIELDS.items()
                 if expected and key in expected and src.config_dict.get(cfg_key) != expected[key]]
        what = f" ({', '.join(diffs)} in the build)" if diffs else ""
        raise UserError(f"model '{src.name}' has config hash {src.config_hash} but the build was compiled for "
                        f"{expected_config_hash}{what}; rebuild with --model {src.name} or pass the model the build was made for")
    if src.directory is None:
        raise UserError(f"no local weights for '{src.name}' (only its config ships with the project); "
                        f"point --model at a local copy, e.g. --model /path/to/bert-large-finetuned-squad2")
    d = src.directory
    arch = (expected or {}).get("architecture") or "BertForQuestionAnswering"
    for name in _SINGLE:
        if (d / name).is_file():
            return Checkpoint(src, [d / name], arch)
    for name in _INDEX:
        if (d / name).is_file():
            try:
                shards = sorted(set(json.loads((d / name).read_text())["weight_map"].values()))
            except (OSError, ValueError, KeyError, TypeError):
                raise UserError(f"{d / name} is not a valid weight index; re-save the checkpoint") from None
            missing = [s for s in shards if not (d / s).is_file()]
            if missing:
                raise UserError(f"checkpoint {d} lacks shard {missing[0]} named in {name}")
            return Checkpoint(src, [d / s for s in shards], arch)
    raise UserError(f"no weights in {d} (expected model.safetensors or pytorch_model.bin); point --model at a full checkpoint")
