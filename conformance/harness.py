"""Main-environment side of the conformance checks: find the ttnn venv and drive it.

Nothing here imports ttnn or torch.  Typical use from a pytest test (any directory)::

    from conformance.harness import run_program_check
    summary = run_program_check([path_a, path_b])   # raises AssertionError listing problems

If ``.venv-ttnn`` is missing every entry point raises :class:`TTNNEnvMissing` (an
``AssertionError``, so pytest reports a failure, not an error or a skip) whose message ends
with ``run: bash scripts/setup_ttnn_env.sh``.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_DIR = Path(os.environ.get("TTNN_VENV_DIR", REPO_ROOT / ".venv-ttnn"))
SETUP_HINT = "run: bash scripts/setup_ttnn_env.sh"
CACHE_DIR = Path(tempfile.gettempdir()) / "tt-bert-conformance"

# files whose content determines the formats dump (its cache key)
_DUMP_INPUTS = (
    "conformance/dump_formats.py",
    "conformance/dlpack_bf16.py",
    "conformance/mockenv.py",
    "conformance/cluster_descriptors/wormhole_n300.yaml",
)


class TTNNEnvMissing(AssertionError):
    pass


class VenvCommandFailed(AssertionError):
    pass


def venv_python() -> Path:
    """Path of the ttnn venv's python; raises TTNNEnvMissing if the venv is not there."""
    py = VENV_DIR / "bin" / "python"
    if not py.exists():
        raise TTNNEnvMissing(f"the ttnn side environment {VENV_DIR} does not exist; {SETUP_HINT}")
    return py


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONPATH"] = str(REPO_ROOT)  # so "conformance" imports, whatever the cwd
    env.setdefault("TT_LOGGER_LEVEL", "FATAL")
    env.setdefault("LOGURU_LEVEL", "WARNING")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_in_venv(args: Sequence[str], *, timeout: float = 900, check: bool = False) -> subprocess.CompletedProcess:
    """Run ``.venv-ttnn/bin/python ARGS`` from the repository root, capturing output."""
    proc = subprocess.run(
        [str(venv_python()), *map(str, args)],
        cwd=REPO_ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise VenvCommandFailed(
            f"{' '.join(map(str, args))} exited with {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}"
            f"\n--- stderr\n{proc.stderr[-4000:]}"
        )
    return proc


def _parse_json_stdout(proc: subprocess.CompletedProcess, what: str) -> dict:
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise VenvCommandFailed(
            f"{what} did not print JSON (exit {proc.returncode}): {exc}\n--- stdout\n{proc.stdout[-4000:]}"
            f"\n--- stderr\n{proc.stderr[-4000:]}"
        ) from None


# ---- emitted programs ----------------------------------------------------------------------

def run_program_check(paths: Iterable[str | os.PathLike], *, expect_ok: bool = True) -> dict:
    """Check emitted programs against the real ttnn (conformance.check_program --json).

    Returns the JSON summary: ``{"ok", "ttnn_version", "totals": {ttnn_calls_checked,
    configs_constructed, attribute_references_checked, distinct_functions}, "files": [...]}``
    where each file entry has ``ttnn_calls_checked``, ``n_distinct_functions``,
    ``configs_constructed`` (by class), ``n_configs_constructed``, ``problems``, ``info``.
    With ``expect_ok`` (default) a failing check raises AssertionError listing every problem.
    """
    paths = [str(Path(p).resolve()) for p in paths]
    if not paths:
        raise ValueError("run_program_check needs at least one program path")
    proc = run_in_venv(["-m", "conformance.check_program", "--json", *paths])
    summary = _parse_json_stdout(proc, "conformance.check_program")
    if expect_ok and not summary["ok"]:
        problems = [p for f in summary["files"] for p in f["problems"]]
        raise AssertionError(
            f"{len(problems)} problem(s) against the real ttnn {summary.get('ttnn_version')}:\n" + "\n".join(problems)
        )
    return summary


# ---- formats ---------------------------------------------------------------------------------

def formats_dump_key() -> str:
    h = hashlib.sha256()
    for rel in _DUMP_INPUTS:
        h.update(rel.encode())
        h.update((REPO_ROOT / rel).read_bytes())
    h.update(str(VENV_DIR.resolve()).encode())
    return h.hexdigest()[:20]


def formats_npz(*, refresh: bool = False) -> Path:
    """The ttnn formats dump, produced once per content of the dump script (cached in temp)."""
    venv_python()
    out = CACHE_DIR / f"formats-{formats_dump_key()}.npz"
    if refresh or not out.exists():
        run_in_venv(["-m", "conformance.dump_formats", "--out", str(out)], check=True)
    return out


def probe_descriptor(target: str) -> subprocess.CompletedProcess:
    return run_in_venv(["-m", "conformance.dump_formats", "--probe-descriptor", target], timeout=300)


# ---- emulator op surface -------------------------------------------------------------------

_SURFACE_FUNCTION_NAMES = ("emulator_api_surface", "api_surface", "emulated_api_surface", "get_api_surface", "op_keyword_surface", "surface")


def emulator_api_surface() -> dict[str, list[str]]:
    """{qualified op name: [keyword names]} from runtime.emulator.api_surface (main env)."""
    import importlib
    import inspect

    mod = importlib.import_module("runtime.emulator.api_surface")
    for name in _SURFACE_FUNCTION_NAMES:
        fn = getattr(mod, name, None)
        if callable(fn):
            return _normalise_surface(fn())
    public = [
        f for n, f in vars(mod).items()
        if inspect.isfunction(f) and f.__module__ == mod.__name__ and not n.startswith("_")
        and not [p for p in inspect.signature(f).parameters.values() if p.default is inspect.Parameter.empty]
    ]
    if len(public) == 1:
        return _normalise_surface(public[0]())
    raise AssertionError(
        "runtime.emulator.api_surface exposes no surface function (looked for "
        f"{', '.join(_SURFACE_FUNCTION_NAMES)} or a single public no-argument function)"
    )


def _normalise_surface(surface) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for op, kws in dict(surface).items():
        if isinstance(kws, dict):
            kws = kws.get("keywords", [])
        name = op if op.startswith("ttnn.") else f"ttnn.{op}"
        out[name] = sorted(set(map(str, kws)))
    return out


def run_api_comparison(surface: dict[str, list[str]] | None = None) -> dict:
    """Compare an emulator op surface (default: the emulator's own) with the real ttnn."""
    if surface is None:
        surface = emulator_api_surface()
    venv_python()
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=CACHE_DIR, delete=False) as fh:
        json.dump(surface, fh, indent=1, sort_keys=True)
        path = fh.name
    try:
        proc = run_in_venv(["-m", "conformance.compare_api", path, "--json"])
        return _parse_json_stdout(proc, "conformance.compare_api")
    finally:
        os.unlink(path)
