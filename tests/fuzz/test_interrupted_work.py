"""Builds and weight-cache writes killed midway (SIGKILL) or racing each other never leave half a result.

(a) a build killed at a random point leaves the old complete build (or nothing) in -o DIR, and the next
    build succeeds; a kill at each rename of write_build is also hit deterministically;
(b) two builds into the same DIR at once end with one complete, valid build;
(c) a weight-cache store killed midway leaves no usable half entry and the next run succeeds.
"""
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForQuestionAnswering

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL semantics")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    torch.manual_seed(0)
    cfg = BertConfig(hidden_size=128, num_hidden_layers=2, num_attention_heads=4, intermediate_size=512, vocab_size=1000)
    d = tmp_path_factory.mktemp("tiny_bert")
    BertForQuestionAnswering(cfg).save_pretrained(d)
    return d


def _env(tmp: Path) -> dict:
    env = dict(os.environ, TT_BERT_CACHE=str(tmp / "cache"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("WH_ARCH_YAML", None)
    return env


def _build_cmd(model: Path, out: Path, batch: int) -> list[str]:
    return [sys.executable, "-m", "compiler", "build", "--arch", "gs", "--batch", str(batch), "--model", str(model), "-o", str(out)]


def assert_complete_build(out: Path) -> dict:
    """DIR holds exactly a whole build: program.py and manifest.json whose program_sha256 matches."""
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "program.py"], list(out.iterdir())
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["program_sha256"] == hashlib.sha256((out / "program.py").read_bytes()).hexdigest()
    compile((out / "program.py").read_text(), str(out / "program.py"), "exec")
    return manifest


@pytest.fixture(scope="module")
def base_build(tiny_model, tmp_path_factory):
    """A complete batch-2 build of the tiny model, made in-process once; tests copy it."""
    from compiler.build import compile_model, write_build
    from compiler.schedule import find_device

    out = tmp_path_factory.mktemp("base") / "build"
    write_build(compile_model(batch=2, device=find_device("grayskull_e150"), model=str(tiny_model)), out)
    return out


def _copy_build(base: Path, tmp: Path) -> Path:
    import shutil

    out = tmp / "build"
    shutil.copytree(base, out)
    return out


def test_build_killed_at_random_points(tmp_path, tiny_model, base_build, fuzz_scale):
    """SIGKILL while the build writes (its temporary directory just appeared) or at a random earlier point."""
    out = _copy_build(base_build, tmp_path)
    rng = random.Random(8)
    for i in range(2 * fuzz_scale - 1):
        proc = subprocess.Popen(_build_cmd(tiny_model, out, 3), env=_env(tmp_path), cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if i % 2 == 0:            # midway through writing: as soon as the temporary build directory exists
            deadline = time.monotonic() + 120
            while not any(p.name.startswith(".build.tmp-") for p in tmp_path.iterdir()) and proc.poll() is None:
                assert time.monotonic() < deadline
                time.sleep(0.0005)
            time.sleep(rng.uniform(0, 0.003))
        else:
            time.sleep(rng.uniform(0.5, 6.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if out.exists():       # the old complete build or the new complete one, never half
            assert assert_complete_build(out)["batch"] in (2, 3)
    r = subprocess.run(_build_cmd(tiny_model, out, 3), env=_env(tmp_path), capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert assert_complete_build(out)["batch"] == 3


KILL_AT_RENAME = """
import hashlib, json, os, shutil, signal, sys
sys.path.insert(0, {root!r})
from compiler.build import compile_model, write_build
from compiler.schedule import find_device
out, backup = {out!r}, {out!r} + "-backup"
shutil.copytree(out, backup)
result = compile_model(batch=3, device=find_device("grayskull_e150"), model={model!r})
for k in (1, 2):           # SIGKILL right before the 1st rename (old build aside) and the 2nd (new build in)
    pid = os.fork()
    if pid == 0:
        calls = [0]
        real_replace = os.replace
        def replace(a, b):
            calls[0] += 1
            if calls[0] == k:
                os.kill(os.getpid(), signal.SIGKILL)
            return real_replace(a, b)
        os.replace = replace
        write_build(result, out)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
    if os.path.exists(out):
        assert sorted(os.listdir(out)) == ["manifest.json", "program.py"], os.listdir(out)
        m = json.load(open(os.path.join(out, "manifest.json")))
        assert m["batch"] == 2 and m["program_sha256"] == hashlib.sha256(open(os.path.join(out, "program.py"), "rb").read()).hexdigest()
        print(f"kill before rename {{k}}: old build intact")
    else:
        print(f"kill before rename {{k}}: no build")
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(backup, out)
write_build(result, out)   # the next build succeeds
"""


def test_build_killed_at_each_rename(tmp_path, tiny_model, base_build):
    """Deterministic kills inside write_build; each leaves the old complete build or nothing."""
    out = _copy_build(base_build, tmp_path)
    code = KILL_AT_RENAME.format(root=str(ROOT), model=str(tiny_model), out=str(out))
    r = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path), capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "kill before rename 1" in r.stdout and "kill before rename 2" in r.stdout, r.stdout
    assert assert_complete_build(out)["batch"] == 3


def test_two_builds_into_one_directory(tmp_path, tiny_model):
    out = tmp_path / "build"
    procs = [subprocess.Popen(_build_cmd(tiny_model, out, b), env=_env(tmp_path), cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for b in (2, 3)]
    results = [(p.wait(), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert all(rc == 0 for rc, _ in results), results
    assert assert_complete_build(out)["batch"] in (2, 3)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".build.")]
    assert not leftovers, leftovers


KILL_IN_CACHE = """
import os, signal, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from runtime.emulator import host_pack
from runtime.cli import main
argv = ["run", {build!r}, "--model", {model!r}, "--device", "emulator"]
weights = Path({cache!r}) / "weights"
for k in (1, 9):           # SIGKILL at the 1st and at the 9th write into the entry's pack file
    pid = os.fork()
    if pid == 0:
        real, calls = host_pack._write_piece, [0]
        def write_piece(*a):
            calls[0] += 1
            if calls[0] == k:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*a)
        host_pack._write_piece = write_piece
        main(argv)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
    entries = [p.name for p in weights.iterdir() if ".tmp-" not in p.name] if weights.exists() else []
    assert entries == [], entries        # only temporary directories: no named (usable) half entry
    print(f"killed at write {{k}}: no entry", flush=True)
assert main(argv) == 0                  # the next run converts and stores
assert main(argv) == 0                  # and the one after reads the cache
entry = next(p for p in weights.iterdir() if ".tmp-" not in p.name)
victim = entry / "tensors.pack"
victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])   # truncated file: detected, rebuilt
assert main(argv) == 0
"""


def test_weight_cache_store_killed_midway(tmp_path, tiny_model, base_build):
    build = _copy_build(base_build, tmp_path)
    code = KILL_IN_CACHE.format(root=str(ROOT), build=str(build), model=str(tiny_model), cache=str(tmp_path / "cache"))
    r = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path), capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "killed at write 1: no entry" in r.stdout and "killed at write 9: no entry" in r.stdout, r.stdout
    sources = [line.split("weights from ")[1].split(",")[0] for line in r.stdout.splitlines() if "weights from" in line]
    assert sources == ["converted", "cache", "converted"], r.stdout
    assert "damaged; rebuilding" in r.stderr
