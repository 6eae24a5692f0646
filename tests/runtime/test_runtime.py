"""Emitted programs on the host emulator against HF fp32: PCC targets, measured L1 == compiler's,
the weight cache, and the runtime's error contract."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from compiler.build import compile_model, write_build
from compiler.schedule import find_device, load_schedule

ROOT = Path(__file__).resolve().parents[2]
SEEDS = [("grayskull_e150", 3), ("wormhole_n300", 3), ("wormhole_n300_eth", 8)]


def pcc(a, b):
    a, b = a.flatten().double(), b.flatten().double()
    return torch.corrcoef(torch.stack([a, b]))[0, 1].item()


def _schedule(tmp_path, device, replace=None):
    text = (ROOT / "schedules" / "bert" / f"{device}.yaml").read_text()
    for old, new in (replace or {}).items():
        text = text.replace(old, new)
    path = tmp_path / f"{device}.yaml"
    path.write_text(text)
    return load_schedule(path)


def _run(tmp_path, model_dir, model, device_name, batch, replace=None):
    from runtime.cli import fixed_batch
    from runtime.session import Session

    device = find_device(device_name)
    result = compile_model(batch=batch, device=device, schedule=_schedule(tmp_path, device_name, replace), model=str(model_dir))
    write_build(result, tmp_path / "build")
    session = Session(tmp_path / "build", device="emulator", log=lambda m: None)
    inputs = fixed_batch(batch, 384, 1000)
    start, end = session.predict(**inputs)
    with torch.no_grad():
        ref = model(**inputs)
    mask = inputs["attention_mask"].bool()
    return session, result, (pcc(start[mask], ref.start_logits[mask]), pcc(end[mask], ref.end_logits[mask]))


@pytest.mark.parametrize("device_name,batch", SEEDS)
def test_bfloat8_schedule_pcc_and_l1(tmp_path, monkeypatch, small_model, device_name, batch):
    monkeypatch.setenv("TT_BERT_CACHE", str(tmp_path / "cache"))
    session, result, (p_start, p_end) = _run(tmp_path, *small_model, device_name, batch)
    assert p_start >= 0.98 and p_end >= 0.98, (p_start, p_end)
    # The emulator's allocator measured exactly what the compiler planned.
    assert session.l1_peak_bytes_per_core() == result.program.peak_l1_bytes_per_core, (session.l1_peak_bytes_per_core(), result.program.peak_l1_bytes_per_core, session.weight_stats)


def test_bfloat16_schedule_pcc(tmp_path, monkeypatch, small_model):
    monkeypatch.setenv("TT_BERT_CACHE", str(tmp_path / "cache"))
    all_bf16 = {"activations: bfloat8_b": "activations: bfloat16", "weights: bfloat8_b": "weights: bfloat16"}
    _, _, (p_start, p_end) = _run(tmp_path, *small_model, "wormhole_n300", 3, all_bf16)
    assert p_start >= 0.999 and p_end >= 0.999, (p_start, p_end)


def test_weight_cache_reuses_and_rebuilds_damaged_entries(tmp_path, monkeypatch, small_model):
    from runtime.session import Session

    monkeypatch.setenv("TT_BERT_CACHE", str(tmp_path / "cache"))
    model_dir, _ = small_model
    result = compile_model(batch=2, device=find_device("wormhole_n300"), model=str(model_dir),
                           schedule=_schedule(tmp_path, "wormhole_n300"))
    write_build(result, tmp_path / "b")
    first = Session(tmp_path / "b", device="emulator", log=lambda m: None)
    assert first.weight_stats["source"] == "converted"
    second = Session(tmp_path / "b", device="emulator", log=lambda m: None)
    assert second.weight_stats["source"] == "cache"
    entry = Path(second.weight_stats["cache_entry"])
    pack = entry / "tensors.pack"
    good = pack.read_bytes()
    del first, second       # their weights map the pack: damage it in place only once nothing uses them
    damages = {"one flipped bit mid-data": lambda b: b[:len(b) // 2] + bytes([b[len(b) // 2] ^ 1]) + b[len(b) // 2 + 1:],
               "truncated": lambda b: b[:100], "one byte appended": lambda b: b + b"\0",
               "flipped header byte": lambda b: b[:20] + bytes([b[20] ^ 0x40]) + b[21:]}
    for what, damage in damages.items():
        pack.write_bytes(damage(good))
        messages = []
        again = Session(tmp_path / "b", device="emulator", log=messages.append)
        assert again.weight_stats["source"] == "converted" and any("damaged" in m for m in messages), what
        assert pack.read_bytes() == good, what        # rebuilt identically
        del again
    (entry / "index.json").write_text("{")
    assert Session(tmp_path / "b", device="emulator", log=lambda m: None).weight_stats["source"] == "converted"
    assert Session(tmp_path / "b", device="emulator", log=lambda m: None).weight_stats["source"] == "cache"


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "runtime", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=600)


def test_device_weight_files_round_trip_and_detect_damage(tmp_path):
    """The device backend's cache files (one ttnn.dump_tensor file each plus checksums), driven through the
    emulator's dump_tensor/load_tensor, which take the same arguments as ttnn's."""
    from runtime.backends import TTNNBackend
    from runtime.emulator import ttnn

    backend = TTNNBackend(ttnn)
    x = torch.randn(64, 96)
    tensors = {"w": ttnn.from_torch(x, dtype=ttnn.bfloat8_b, layout=ttnn.TILE_LAYOUT),
               "g": ttnn.from_torch(x[:1, :32].reshape(1, 1, 1, 32), dtype=ttnn.bfloat16, layout=ttnn.ROW_MAJOR_LAYOUT)}
    backend.write_host_tensors(tmp_path, tensors)
    back = backend.read_host_tensors(tmp_path)
    for name, t in tensors.items():
        assert torch.equal(ttnn.to_torch(back[name]), ttnn.to_torch(t)) and back[name].dtype == t.dtype, name
    victim = sorted(tmp_path.glob("*.tensorbin"))[0]
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 1
    victim.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="checksum"):
        backend.read_host_tensors(tmp_path)


def test_run_dump_logits_and_errors(tmp_path, small_model):
    model_dir, model = small_model
    result = compile_model(batch=2, device=find_device("wormhole_n300"), model=str(model_dir),
                           schedule=_schedule(tmp_path, "wormhole_n300"))
    write_build(result, tmp_path / "b")
    env = {"TT_BERT_CACHE": str(tmp_path / "cache")}
    proc = run_cli("run", str(tmp_path / "b"), "--dump-logits", str(tmp_path / "l.npz"), env=env)
    assert proc.returncode == 0, proc.stderr
    data = np.load(tmp_path / "l.npz")
    assert data["start_logits"].shape == (2, 384) and set(data) >= {"input_ids", "token_type_ids", "attention_mask"}
    with torch.no_grad():
        ref = model(**{k: torch.from_numpy(data[k]) for k in ("input_ids", "token_type_ids", "attention_mask")})
    assert pcc(torch.from_numpy(data["start_logits"]), ref.start_logits) > 0.98
    # Bad inputs: one line, exit 2.
    for args, pattern in [
        (["run", str(tmp_path / "missing")], "does not exist"),
        (["run", str(tmp_path)], "no manifest.json"),
        (["run", str(tmp_path / "b"), "--model", str(ROOT / "models" / "minilm-l6-squad1")], "config hash"),
    ]:
        p = run_cli(*args, env=env)
        assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and pattern in p.stderr, p.stderr
    (tmp_path / "b" / "program.py").write_text((tmp_path / "b" / "program.py").read_text() + "\n# edited\n")
    p = run_cli("run", str(tmp_path / "b"), env=env)
    assert p.returncode == 2 and "does not match its manifest" in p.stderr
