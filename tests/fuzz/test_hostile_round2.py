"""Hostile inputs, round 2 (issue 15): injection through files and names, hangs, tracebacks, valid input refused.

Each case runs the real CLI (in-process through compiler.cli.main / runtime.cli.main, or as a subprocess where the
old behaviour was a hang) and checks the exact outcome: exit 2 with one `error:` line naming what is wrong, or
success where the input is valid. A small BERT (hidden 128, 2 layers, BERT's vocabulary so the shipped MiniLM
tokenizer fits it) keeps the runtime cases quick.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from fuzz_helpers import assert_one_error_line

ROOT = Path(__file__).resolve().parents[2]
MINILM = ROOT / "models" / "minilm-l6-squad1"
GS_DEVICE = (ROOT / "schedules" / "devices" / "grayskull_e150.yaml").read_text()
GS_SCHEDULE = (ROOT / "schedules" / "bert" / "grayskull_e150.yaml").read_text()
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt")


def _cli(which, argv, cwd=None):
    from compiler.cli import main as compiler_main
    from runtime.cli import main as runtime_main

    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    try:
        if cwd:
            os.chdir(cwd)
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            rc = (compiler_main if which == "compiler" else runtime_main)(argv)
    finally:
        os.chdir(old)
    return rc, out.getvalue(), err.getvalue()


def refused(which, argv, *needles, kind, counter):
    """Exit 2, exactly one `error:` line, holding every needle; returns that line. A weight-conversion progress bar
    may come before it (on stderr, ending its own line), nothing else."""
    counter[kind] += 1
    rc, _, err = _cli(which, argv)
    assert rc == 2, (rc, err)
    lines = err.rstrip("\n").split("\n")
    assert all("converting weights" in line for line in lines[:-1]), err
    assert_one_error_line(rc, lines[-1], [""])
    for n in needles:
        assert n in lines[-1], (n, err)
    return lines[-1]


def _subprocess(args, timeout=120, cwd=ROOT):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TT_BERT_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A tiny BERT QA checkpoint with the MiniLM tokenizer."""
    from transformers import BertConfig, BertForQuestionAnswering

    torch.manual_seed(0)
    cfg = BertConfig(hidden_size=128, num_hidden_layers=2, num_attention_heads=4, intermediate_size=512,
                     vocab_size=30522, max_position_embeddings=512)
    d = tmp_path_factory.mktemp("small") / "model"
    BertForQuestionAnswering(cfg).save_pretrained(d)
    for f in TOKENIZER_FILES:
        shutil.copy(MINILM / f, d / f)
    return d


def _copy_model(src: Path, dst: Path, config=None, tensors=None) -> Path:
    shutil.copytree(src, dst)
    if config is not None:
        (dst / "config.json").write_text(json.dumps(config))
    if tensors is not None:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(dst / "model.safetensors"))
    return dst


def _build(model: Path, out: Path, batch=2) -> Path:
    rc, _, err = _cli("compiler", ["build", "--arch", "gs", "--batch", str(batch), "--model", str(model), "-o", str(out)])
    assert rc == 0, err
    return out


@pytest.fixture(scope="module")
def small_build(small, tmp_path_factory):
    return _build(small, tmp_path_factory.mktemp("sb") / "build")


def _two_questions(tmp_path) -> Path:
    p = tmp_path / "two.json"
    p.write_text(json.dumps([{"question": "Who met Bob?", "context": "Alice met Bob in Paris."},
                             {"question": "Where?", "context": "Alice met Bob in Paris."}]))
    return p


# ---- code injection ---------------------------------------------------------------------------------------------

INJECT = '"""\nimport pathlib; pathlib.Path("PWNED").write_text("x")\n"""'


def test_model_directory_name_cannot_inject_code(small, tmp_path, case_counter):
    """A --model directory named with triple quotes and code: the program holds it as text and runs clean."""
    case_counter["model directory name"] += 1
    d = _copy_model(small, tmp_path / f"m{INJECT}")
    build = _build(d, tmp_path / "build")
    source = (build / "program.py").read_text()
    assert f"m{INJECT}" not in source and 'm\\"\\"\\"\\nimport pathlib' in source
    rc, out, err = _cli("runtime", ["run", str(build), "--device", "emulator"], cwd=tmp_path)
    assert rc == 0, err
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("value", ['x"\nimport os\n"', 'x"""', "x\\", "x'''", "ünï\u2028"])
def test_select_env_value_cannot_inject_code(tmp_path, monkeypatch, value, case_counter):
    """A v0.55 device file whose select_env value is hostile: build quotes it; the constant holds it exactly."""
    import ast

    case_counter["device yaml"] += 1
    monkeypatch.setenv("WH_ARCH_YAML", value.replace("\u2028", ""))
    value = value.replace("\u2028", "")
    dev = tmp_path / "devices" / "grayskull_e150.yaml"
    dev.parent.mkdir()
    dev.write_text(GS_DEVICE.replace("select_env: {}", f"select_env: {{WH_ARCH_YAML: {json.dumps(value)}}}"))
    rc, _, err = _cli("compiler", ["build", "--device", str(dev), "--batch", "2", "--model", str(MINILM),
                                   "-o", str(tmp_path / "b")])
    assert rc == 0, err
    tree = ast.parse((tmp_path / "b" / "program.py").read_text())
    consts = {n.targets[0].id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
              and isinstance(n.value, ast.Constant)}
    assert consts["REQUIRED_ENV_WH_ARCH_YAML"] == value
    assert not [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)) and n.names[0].name == "os"]


@pytest.mark.parametrize("env,needle", [
    ("{WH_ARCH_YAML: 1}", "'select_env.WH_ARCH_YAML' is 1; give the variable's value as a quoted string"),
    ("{WH_ARCH_YAML: true}", "'select_env.WH_ARCH_YAML' is True"),
    ("{WH_ARCH_YAML: null}", "'select_env.WH_ARCH_YAML' is None"),
    ("{WH_ARCH_YAML: [a]}", "'select_env.WH_ARCH_YAML' is ['a']"),
    ('{"A-B": x}', "'select_env' key 'A-B' is not an environment variable name"),
    ('{"1X": x}', "key '1X' is not an environment variable name"),
    ('{"X\\n": x}', "is not an environment variable name"),
    ("{7: x}", "key 7 is not an environment variable name"),
])
def test_select_env_refused_at_build(tmp_path, env, needle, case_counter):
    dev = tmp_path / "grayskull_e150.yaml"
    dev.write_text(GS_DEVICE.replace("select_env: {}", f"select_env: {env}"))
    refused("compiler", ["build", "--device", str(dev), "--batch", "2", "--eth-dispatch", "--model", str(MINILM),
                         "-o", str(tmp_path / "b")], needle, kind="device yaml", counter=case_counter)
    assert not (tmp_path / "b").exists()


def test_modified_program_is_refused_unless_allowed(small_build, tmp_path, case_counter):
    case_counter["build directory"] += 2
    build = tmp_path / "build"
    shutil.copytree(small_build, build)
    marker = tmp_path / "ran"
    with open(build / "program.py", "a") as f:
        f.write(f"\nopen({str(marker)!r}, 'w').write('x')\n")
    rc, _, err = _cli("runtime", ["run", str(build), "--device", "emulator"])
    assert rc == 2 and err == (f"error: {build / 'program.py'} does not match its manifest (its sha256 is not the "
                               f"program_sha256 written at build time): it was modified after the build, and running "
                               f"it would execute that code; rebuild with python -m compiler build, or pass "
                               f"--allow-modified-program if you edited it yourself\n")
    assert not marker.exists()
    rc, _, err = _cli("runtime", ["run", str(build), "--device", "emulator", "--allow-modified-program"])
    assert rc == 0, err
    assert marker.exists() and "warning: running" in err and "modified after the build" in err


# ---- hangs ------------------------------------------------------------------------------------------------------

def _bomb(levels=9):
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("where", ["tile", "select_env", "name", "unknown"])
def test_yaml_alias_bomb_is_refused_fast(tmp_path, where, case_counter):
    text = {"tile": _bomb() + GS_DEVICE.replace("tile: [32, 32]", "tile: *l8"),
            "select_env": _bomb() + GS_DEVICE.replace("select_env: {}", "select_env: {X: *l8}"),
            "name": _bomb() + GS_DEVICE.replace("name: grayskull_e150", "name: *l8"),
            "unknown": GS_DEVICE + "extra:\n  " + _bomb().replace("\n", "\n  ")}[where]
    dev = tmp_path / "grayskull_e150.yaml"
    dev.write_text(text)
    t0 = time.perf_counter()
    refused("compiler", ["check-schedule", str(dev), "--batch", "2", "--model", str(MINILM)],
            "this YAML holds more than 20000 values, aliases counted at each use (an alias bomb?)", kind="device yaml",
            counter=case_counter)
    assert time.perf_counter() - t0 < 10


def test_self_referencing_alias_and_moderate_aliases(tmp_path, case_counter):
    dev = tmp_path / "devices" / "grayskull_e150.yaml"
    dev.parent.mkdir()
    dev.write_text("a: &a [*a]\n" + GS_DEVICE)
    refused("compiler", ["check-schedule", str(dev)], "a YAML alias refers to the value that holds it",
            kind="device yaml", counter=case_counter)
    # aliases as people use them still load: one dtype named once, used twice
    case_counter["schedule yaml"] += 1
    dev.write_text(GS_DEVICE)
    sched = tmp_path / "bert" / "grayskull_e150.yaml"
    sched.parent.mkdir()
    sched.write_text(GS_SCHEDULE.replace("  activations: bfloat8_b\n  weights: bfloat8_b",
                                         "  activations: &fmt bfloat8_b\n  weights: *fmt"))
    assert "*fmt" in sched.read_text()
    rc, _, err = _cli("compiler", ["check-schedule", str(sched), "--batch", "2", "--model", str(MINILM)])
    assert rc == 0, err


def test_values_quoted_in_messages_are_bounded(tmp_path, case_counter):
    dev = tmp_path / "grayskull_e150.yaml"
    for text, needle in ((GS_DEVICE.replace("arch: grayskull", "arch: " + "x" * 200_000), "'arch' is 'xxxx"),
                         (GS_DEVICE.replace("tile: [32, 32]", "tile: [" + ", ".join(["1"] * 100_000) + "]"), "holds more than 20000 values"),
                         (GS_DEVICE.replace("tile: [32, 32]", "tile: [" + ", ".join(["1"] * 10_000) + "]"),
                          "'tile' must be [32, 32] (TT-NN tiles are 32x32), got [1, 1, 1, 1, 1, 1, ...]"),
                         (GS_DEVICE.replace("clock_ghz: 1.2", "clock_ghz: " + "9" * 5000), "more than 4300 digits"),
                         (GS_DEVICE + "? " + "k" * 100_000 + "\n: 1\n", "unknown key 'kkkk")):
        dev.write_text(text)
        line = refused("compiler", ["check-schedule", str(dev)], needle, kind="device yaml", counter=case_counter)
        assert len(line) < 500, len(line)


@pytest.mark.parametrize("argv", [
    ["compiler", "build", "--device", "{fifo}", "--batch", "2"],
    ["compiler", "build", "--arch", "gs", "--schedule", "{fifo}", "--batch", "2"],
    ["compiler", "check-schedule", "{fifo}"],
    ["runtime", "demo", "{build}", "--inputs", "{fifo}", "--device", "emulator"],
    ["runtime", "squad", "{build}", "--data", "{fifo}", "--device", "emulator"],
], ids=["device", "schedule", "check-schedule", "demo-inputs", "squad-data"])
def test_fifo_is_refused_not_read(tmp_path, small_build, argv, case_counter):
    case_counter["fifo"] += 1
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    args = [a.format(fifo=fifo, build=small_build) for a in argv]
    r = _subprocess(args, timeout=120)   # the old code blocked here forever
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and "FIFO (named pipe), not a regular file" in lines[-1], r.stderr


def test_fifo_manifest_is_refused(tmp_path, small_build, case_counter):
    case_counter["fifo"] += 1
    build = tmp_path / "build"
    shutil.copytree(small_build, build)
    (build / "manifest.json").unlink()
    os.mkfifo(build / "manifest.json")
    r = _subprocess(["runtime", "run", str(build), "--device", "emulator"], timeout=120)
    assert r.returncode == 2 and r.stderr.strip() == (f"error: {build / 'manifest.json'}: it is a FIFO (named pipe), "
                                                      f"not a regular file; rebuild with python -m compiler build")


# ---- tracebacks that are one error line now ---------------------------------------------------------------------

@pytest.mark.parametrize("key,value,needle", [
    ("clock_ghz: 1.2", "clock_ghz: 0", "'clock_ghz' must be above zero (GHz), got 0.0"),
    ("clock_ghz: 1.2", "clock_ghz: -1", "'clock_ghz' must be above zero (GHz), got -1.0"),
    ("bandwidth_gb_s: 118", "bandwidth_gb_s: 0", "'dram.bandwidth_gb_s' must be above zero (GB/s), got 0.0"),
    ("bandwidth_gb_s: 118", "bandwidth_gb_s: -0.0", "'dram.bandwidth_gb_s' must be above zero"),
])
def test_zero_rates_are_refused(tmp_path, key, value, needle, case_counter):
    dev = tmp_path / "devices" / "grayskull_e150.yaml"
    dev.parent.mkdir()
    dev.write_text(GS_DEVICE.replace(key, value))
    refused("compiler", ["build", "--device", str(dev), "--batch", "2", "--model", str(MINILM), "-o", str(tmp_path / "o")],
            needle, "give the device's real rate", kind="device yaml", counter=case_counter)


def _config(tmp_path, text: str) -> Path:
    d = tmp_path / "m"
    d.mkdir(exist_ok=True)
    (d / "config.json").write_text(text)
    return d


BASE_CONFIG = json.loads((MINILM / "config.json").read_text())


@pytest.mark.parametrize("text,needle", [
    ('{"model_type": "bert", "x": ' + "[" * 100_000 + "]" * 100_000 + "}", "JSON nested too deeply"),
    ('{"model_type": "bert", "x": ' + "{\"a\": " * 50_000 + "1" + "}" * 50_000 + "}", "JSON nested too deeply"),
    (json.dumps(BASE_CONFIG)[:-1] + ', "hidden_dropout_prob": ' + "9" * 5000 + "}", "an integer has more than 4300 digits"),
    (json.dumps(BASE_CONFIG)[:-1] + ', "vocab_size": -' + "1" * 5000 + "}", "an integer has more than 4300 digits"),
    (json.dumps(dict(BASE_CONFIG, intermediate_size=1)), "config.json 'intermediate_size' must be a multiple of 32"),
    (json.dumps(dict(BASE_CONFIG, intermediate_size=33)), "intermediate_size 33 is not a multiple of 32"),
    (json.dumps(dict(BASE_CONFIG, vocab_size=[1] * 100_000)), "config.json is not a usable BertConfig"),
], ids=["deep-list", "deep-object", "5000-digit-float-key", "5000-digit-vocab", "intermediate-1", "intermediate-33",
        "100k-list-vocab"])
def test_hostile_config_json(tmp_path, text, needle, case_counter):
    d = _config(tmp_path, text)
    line = refused("compiler", ["build", "--arch", "gs", "--batch", "2", "--model", str(d), "-o", str(tmp_path / "o")],
                   needle, kind="config.json", counter=case_counter)
    assert len(line) < 600


def test_nan_weights_named_at_load(small, small_build, tmp_path, case_counter):
    sd = load_file(str(small / "model.safetensors"))
    for key, bad in (("bert.encoder.layer.1.output.dense.weight", float("nan")),
                     ("bert.embeddings.word_embeddings.weight", float("inf"))):
        tensors = {k: v.clone() for k, v in sd.items()}
        tensors[key][3, 4] = bad
        d = _copy_model(small, tmp_path / f"nan-{key}", tensors=tensors)
        line = refused("runtime", ["demo", str(small_build), "--model", str(d), "--device", "emulator",
                                   "--inputs", str(_two_questions(tmp_path))],
                       f"tensor '{key}' holds 1 non-finite value (NaN or inf)", kind="checkpoint", counter=case_counter)
        assert line.startswith(f"error: checkpoint {d}: ")


@pytest.mark.parametrize("text,needle", [
    ('{"version": "1.0", "truncation": null}', "KeyError: 'added_tokens'"),
    ("[1, 2]", "cannot load its tokenizer"),
    ('{"added_tokens": 5}', "cannot load its tokenizer"),
    ("not json", "cannot load its tokenizer"),
])
def test_tokenizer_of_the_wrong_schema(small, small_build, tmp_path, text, needle, case_counter):
    d = _copy_model(small, tmp_path / "tok")
    (d / "tokenizer.json").write_text(text)
    refused("runtime", ["demo", str(small_build), "--model", str(d), "--device", "emulator",
                        "--inputs", str(_two_questions(tmp_path))], needle,
            "tokenizer.json must be the file a Hugging Face fast tokenizer's save_pretrained() writes",
            kind="tokenizer.json", counter=case_counter)


@pytest.mark.parametrize("index,needle", [
    ({"weight_map": ["model-00001.safetensors"]}, "has a weight_map that is list ['model-00001.safetensors']"),
    ({"weight_map": "model-00001.safetensors"}, "has a weight_map that is str"),
    ({"weight_map": {}}, "has a weight_map that is dict {}"),
    ({"metadata": {}}, "has no weight_map"),
    ([], "has no weight_map"),
    ({"weight_map": {"a": 3}}, "weight_map['a'] is 3, not a shard file name"),
    ({"weight_map": {"a": "../model.safetensors"}}, "weight_map['a'] is '../model.safetensors', not a shard file name"),
])
def test_weight_index_of_the_wrong_schema(small, small_build, tmp_path, index, needle, case_counter):
    d = _copy_model(small, tmp_path / "sharded")
    (d / "model.safetensors").rename(d / "model-00001.safetensors")
    (d / "model.safetensors.index.json").write_text(json.dumps(index))
    refused("runtime", ["run", str(small_build), "--model", str(d), "--device", "emulator"], needle,
            kind="weight index", counter=case_counter)


def test_json_error_says_at_once(small_build, tmp_path, case_counter):
    p = tmp_path / "in.json"
    p.write_text('[{"question": "abc')
    line = refused("runtime", ["demo", str(small_build), "--inputs", str(p), "--device", "emulator"],
                   "(Unterminated string starting at line 1 column 15)", kind="demo inputs", counter=case_counter)
    assert "at at" not in line


# ---- valid input that was refused -------------------------------------------------------------------------------

def test_one_token_type_bert_runs(small, tmp_path, case_counter):
    """type_vocab_size 1: run feeds token type 0 only, demo answers (the tokenizer's type-1 ids are dropped)."""
    case_counter["config.json"] += 1
    from runtime.cli import fixed_batch

    sd = load_file(str(small / "model.safetensors"))
    sd["bert.embeddings.token_type_embeddings.weight"] = sd["bert.embeddings.token_type_embeddings.weight"][:1].clone()
    cfg = json.loads((small / "config.json").read_text())
    d = _copy_model(small, tmp_path / "one-type", config=dict(cfg, type_vocab_size=1), tensors=sd)
    build = _build(d, tmp_path / "build")
    assert json.loads((build / "manifest.json").read_text())["model"]["type_vocab_size"] == 1
    assert fixed_batch(2, 64, 30522, type_vocab_size=1)["token_type_ids"].eq(0).all()
    assert fixed_batch(2, 64, 30522)["token_type_ids"].eq(1).any()
    rc, out, err = _cli("runtime", ["run", str(build), "--device", "emulator"])
    assert rc == 0 and out.startswith("ran "), err
    rc, out, err = _cli("runtime", ["demo", str(build), "--device", "emulator", "--inputs", str(_two_questions(tmp_path))])
    assert rc == 0 and " 1. Q: Who met Bob?" in out, err


# ---- rough edges ------------------------------------------------------------------------------------------------

def _help(which, argv) -> str:
    from compiler.cli import parser as compiler_parser
    from runtime.cli import parser as runtime_parser

    p = compiler_parser() if which == "compiler" else runtime_parser()
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        p.parse_args(argv + ["--help"])
    return " ".join(out.getvalue().split())


def test_help_texts():
    build = _help("compiler", ["build"])
    assert "--batch N sequences per run, fixed in the program" in build
    assert "(default: wh when no --device is given)" in build
    for cmd in ("run", "demo", "squad"):
        text = _help("runtime", [cmd])
        assert "BUILD_DIR directory written by `python -m compiler build`" in text, cmd
        assert "--device {auto,ttnn,emulator} where to run" in text and "default auto" in text, cmd
        assert "--allow-modified-program run program.py even though" in text, cmd
    assert "--dump-logits OUT.npz also write" in _help("runtime", ["run"])
    squad = _help("runtime", ["squad"])
    assert "--samples N evaluate only the first N questions" in squad and "--data SQUAD.json SQuAD v1.1" in squad


def test_progress_bar_ends_its_line_when_stderr_is_a_file(capsys):
    from runtime.progress import progress

    for _ in progress(range(3), desc="converting weights"):
        pass
    print("1. Q: first answer")
    captured = capsys.readouterr()
    assert "converting weights" in captured.err and captured.err.endswith("\n")
    assert captured.out == "1. Q: first answer\n"


def test_progress_bar_into_the_same_file_as_the_answers(small, small_build, tmp_path):
    """`python -m runtime demo ... > out.txt 2>&1`: the first answer starts a line of its own."""
    log = tmp_path / "out.txt"
    with open(log, "w") as f:
        subprocess.run([sys.executable, "-m", "runtime", "demo", str(small_build), "--device", "emulator",
                        "--inputs", str(_two_questions(tmp_path))], stdout=f, stderr=subprocess.STDOUT, timeout=300,
                       cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), check=True)
    lines = log.read_text().splitlines()
    assert any("converting weights" in line for line in lines)
    assert " 1. Q: Who met Bob?" in lines


def test_schedules_explains_derived():
    rc, out, _ = _cli("compiler", ["schedules"])
    assert rc == 0
    rows = out.splitlines()
    assert any(" derived " in r for r in rows[1:-1])
    assert rows[-1].startswith("derived: the device file sets no batch.max; the range is the batches whose schedule "
                               "is legal and fits L1")
    widths = {r.index(" schedules/") for r in rows[1:-1]}
    assert len(widths) == 1, "columns line up"


def test_search_table_cells_and_sign(small, tmp_path):
    rc, out, err = _cli("compiler", ["build", "--arch", "gs", "--batch", "2", "--model", str(small),
                                     "-o", str(tmp_path / "b"), "--search"])
    assert rc == 0, err
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("search:"))
    assert lines[at + 1] == ("  speed: the best alternative's predicted sentences/s against the reference's "
                             "(+ faster, - slower)")
    assert lines[at + 2].split() == ["stage", "tried", "legal", "best", "alternative", "speed"]
    table = lines[at + 3:next(i for i, line in enumerate(lines) if line.startswith("  reference"))]
    text = " ".join(" ".join(line.split()) for line in table)
    # one row per search stage (the attention-placement stage, which could only refuse, is gone)
    assert [line.split()[0] for line in table if line[2:3] != " "] == ["grid", "dtypes", "program"], text
    for line in table:
        cell = line[2 + 20 + 1 + 5 + 1 + 5 + 2:]
        assert len(cell.rstrip()) <= 58 + 1 + 8


def test_squad_value_quoted_in_message_is_bounded(small_build, tmp_path, case_counter):
    p = tmp_path / "squad.json"
    p.write_text(json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": "c", "qas": [
        {"id": "1", "question": "q?", "answers": [{"text": "c", "answer_start": "x" * 100_000}]}]}]}]}))
    line = refused("runtime", ["squad", str(small_build), "--data", str(p), "--device", "emulator"],
                   "answers[0].answer_start: is 'xxxx", "not a non-negative integer", kind="squad json", counter=case_counter)
    assert len(line) < 400


def test_fifo_config_json_is_refused(tmp_path, case_counter):
    case_counter["fifo"] += 2
    d = tmp_path / "m"
    d.mkdir()
    os.mkfifo(d / "config.json")
    for model in (d, d / "config.json"):
        r = _subprocess(["compiler", "build", "--arch", "gs", "--batch", "2", "--model", str(model)], timeout=120)
        assert r.returncode == 2 and r.stderr.strip() == (
            f"error: --model {model}: {d / 'config.json'} is not a regular file; point --model at a checkpoint "
            f"directory whose config.json is a file"), r.stderr
