"""On-disk cache of prepared (converted, quantized) weights.

Key: checkpoint weight hash + the program's `prepare_weights` source (which encodes transposes,
regrouping, dtypes and layouts) + backend + format version. An entry is a directory of one file
per tensor plus index.json with each file's CRC32 and size; it is written to a temporary directory and
renamed into place, so readers see a complete entry or none. A damaged entry is detected by its
checksums, removed and rebuilt.
"""
from __future__ import annotations

import hashlib
import zlib
import inspect
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

CACHE_FORMAT = 2


def cache_root() -> Path:
    return Path(os.environ.get("TT_BERT_CACHE") or Path.home() / ".cache" / "tt-bert-compiler") / "weights"


def cache_key(weight_hash: str, program, backend: str) -> str:
    recipe = inspect.getsource(program.prepare_weights) + inspect.getsource(program.fuse_qkv_columns)
    blob = json.dumps([CACHE_FORMAT, backend, weight_hash, hashlib.sha256(recipe.encode()).hexdigest()])
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _checksum(path: Path) -> str:
    """CRC32 of the file: detects flipped or lost bytes at GB/s (integrity, not security)."""
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            crc = zlib.crc32(chunk, crc)
    return f"{crc:08x}-{path.stat().st_size}"


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


def _load(entry: Path, ttnn) -> dict | None:
    try:
        index = json.loads((entry / "index.json").read_text())
        if index.get("format") != CACHE_FORMAT:
            return None
        flat = {}
        for name, meta in index["files"].items():
            path = entry / meta["file"]
            if _checksum(path) != meta["checksum"]:
                return None
            flat[name] = ttnn.load_tensor(str(path))
        return _unflatten(flat, index["num_layers"])
    except Exception:  # any damage (missing file, bad JSON, undecodable tensor) means: rebuild the entry
        return None


def _store(entry: Path, weights: dict, ttnn) -> None:
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=entry.name + ".tmp-", dir=entry.parent))
    try:
        files = {}
        for i, (name, tensor) in enumerate(_flatten(weights).items()):
            fname = f"{i:04d}.bin"
            ttnn.dump_tensor(str(tmp / fname), tensor)
            files[name] = {"file": fname, "checksum": _checksum(tmp / fname)}
        (tmp / "index.json").write_text(json.dumps({"format": CACHE_FORMAT, "num_layers": len(weights["layers"]),
                                                    "files": files}))
        if entry.exists():          # another process won the race: its entry is as good as ours
            return
        os.replace(tmp, entry)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def prepared_weights(program, checkpoint, ttnn, backend: str, log=print) -> tuple[dict, dict]:
    """Host weights for this program: from the cache if a sound entry exists, else converted and stored."""
    t0 = time.perf_counter()
    key = cache_key(checkpoint.weight_hash(), program, backend)
    entry = cache_root() / key
    stats = {"cache_entry": str(entry), "hash_s": time.perf_counter() - t0}
    if entry.exists():
        t1 = time.perf_counter()
        weights = _load(entry, ttnn)
        if weights is not None:
            stats.update(source="cache", load_s=time.perf_counter() - t1)
            return weights, stats
        log(f"weight cache entry {entry} is damaged; rebuilding it")
        shutil.rmtree(entry, ignore_errors=True)
    t1 = time.perf_counter()
    state_dict = checkpoint.state_dict()
    weights = program.prepare_weights(state_dict, progress=lambda it: tqdm(it, desc="converting weights", unit="layer",
                                                                           file=sys.stderr, leave=False))
    stats["convert_s"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    _store(entry, weights, ttnn)
    stats.update(source="converted", store_s=time.perf_counter() - t2)
    return weights, stats
