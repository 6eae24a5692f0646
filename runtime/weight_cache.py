"""On-disk cache of prepared (converted, quantized) weights.

Key: checkpoint weight hash + the program's `prepare_weights` source (which encodes transposes,
regrouping, dtypes and layouts) + backend + format version. An entry is a directory: index.json plus
the tensors in the backend's own checksummed files (`write_host_tensors` / `read_host_tensors` in
runtime/backends.py: one pack file for the emulator, ttnn.dump_tensor files for a device). It is written
to a temporary directory and renamed into place, so readers see a complete entry or none. A damaged
entry (its checksums disagree, a file is missing or undecodable) is removed and rebuilt.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from .progress import progress

CACHE_FORMAT = 3


def cache_root() -> Path:
    return Path(os.environ.get("TT_BERT_CACHE") or Path.home() / ".cache" / "tt-bert-compiler") / "weights"


def cache_key(weight_hash: str, program, backend: str) -> str:
    recipe = inspect.getsource(program.prepare_weights) + inspect.getsource(program.fuse_qkv_columns)
    blob = json.dumps([CACHE_FORMAT, backend, weight_hash, hashlib.sha256(recipe.encode()).hexdigest()])
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _flatten(weights: dict) -> dict[str, object]:
    flat = {f"global.{k}": v for k, v in weights.items() if k != "layers"}
    for i, layer in enumerate(weights["layers"]):
        flat.update({f"layer{i}.{k}": v for k, v in layer.items()})
    return flat


def _unflatten(flat: dict[str, object], num_layers: int) -> dict:
    weights = {k[len("global."):]: v for k, v in flat.items() if k.startswith("global.")}
    weights["layers"] = [{} for _ in range(num_layers)]
    for k, v in flat.items():
        if k.startswith("layer"):
            idx, key = k[len("layer"):].split(".", 1)
            weights["layers"][int(idx)][key] = v
    return weights


def _load(entry: Path, backend) -> dict | None:
    try:
        index = json.loads((entry / "index.json").read_text())
        if index.get("format") != CACHE_FORMAT:
            return None
        return _unflatten(backend.read_host_tensors(entry), index["num_layers"])
    except Exception:  # any damage (missing file, bad JSON, checksum, undecodable tensor) means: rebuild the entry
        return None


def _store(entry: Path, weights: dict, backend) -> None:
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=entry.name + ".tmp-", dir=entry.parent))
    try:
        backend.write_host_tensors(tmp, _flatten(weights))
        (tmp / "index.json").write_text(json.dumps({"format": CACHE_FORMAT, "num_layers": len(weights["layers"])}))
        if entry.exists():          # another process won the race: its entry is as good as ours
            return
        os.replace(tmp, entry)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def prepared_weights(program, checkpoint, backend, log=print) -> tuple[dict, dict]:
    """Host weights for this program: from the cache if a sound entry exists, else converted and stored."""
    t0 = time.perf_counter()
    key = cache_key(checkpoint.weight_hash(), program, backend.name)
    entry = cache_root() / key
    stats = {"cache_entry": str(entry), "hash_s": time.perf_counter() - t0}
    if entry.exists():
        t1 = time.perf_counter()
        weights = _load(entry, backend)
        if weights is not None:
            stats.update(source="cache", load_s=time.perf_counter() - t1)
            return weights, stats
        log(f"weight cache entry {entry} is damaged; rebuilding it")
        shutil.rmtree(entry, ignore_errors=True)
    t1 = time.perf_counter()
    state_dict = checkpoint.state_dict()
    weights = program.prepare_weights(state_dict, progress=lambda it: progress(it, desc="converting weights", unit="layer"))
    stats["convert_s"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    _store(entry, weights, backend)
    stats.update(source="converted", store_s=time.perf_counter() - t2)
    return weights, stats
