"""Find and read a BERT checkpoint offline (local directory or local HF cache; safetensors or bin)."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from compiler.errors import UserError, read_regular, short
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
        check_finite(sd, self.files[0].parent)
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


def check_finite(sd: dict, where: Path) -> None:
    """Refuse NaN or infinite weights at load time, naming the tensor (they would surface as NaN logits)."""
    for k, t in sd.items():
        if isinstance(t, torch.Tensor) and t.is_floating_point() and not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise UserError(f"checkpoint {where}: tensor '{k}' holds {bad} non-finite value{'s' if bad > 1 else ''} "
                            f"(NaN or inf) of {t.numel()}; the checkpoint is damaged: re-download or re-train it")


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
                    "intermediate_size": "intermediate_size", "vocab_size": "vocab_size", "type_vocab_size": "type_vocab_size"}


def _index_shards(index: Path) -> list[str]:
    """The shard files a model.safetensors.index.json names: its weight_map is {tensor name: shard file name}."""
    try:
        data = json.loads(read_regular(index).decode("utf-8"))
    except (OSError, ValueError, RecursionError) as e:
        raise UserError(f"{index} is not a readable weight index ({e.__class__.__name__}); re-save the checkpoint") from None
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        got = "no weight_map" if weight_map is None else f"a weight_map that is {type(weight_map).__name__} {short(weight_map, 60)}"
        raise UserError(f"{index} has {got}; it must map each tensor name to its shard file "
                        f'({{"weight_map": {{"bert.embeddings...": "model-00001-of-00002.safetensors"}}}}): re-save the checkpoint')
    for tensor, shard in weight_map.items():
        if not isinstance(shard, str) or not shard or Path(shard).name != shard or shard in (".", ".."):
            raise UserError(f"{index}: weight_map[{short(tensor, 60)}] is {short(shard, 60)}, not a shard file name in "
                            f"the checkpoint directory; re-save the checkpoint")
    return sorted(set(weight_map.values()))


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
            shards = _index_shards(d / name)
            missing = [s for s in shards if not (d / s).is_file()]
            if missing:
                raise UserError(f"checkpoint {d} lacks shard {missing[0]} named in {name}")
            return Checkpoint(src, [d / s for s in shards], arch)
    raise UserError(f"no weights in {d} (expected model.safetensors or pytorch_model.bin); point --model at a full checkpoint")
