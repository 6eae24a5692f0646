"""A build directory as the runtime sees it: manifest.json + program.py, checked before use."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from compiler.errors import NotARegularFile, UserError, read_regular

MANIFEST_FORMAT = 1


@dataclass
class Build:
    path: Path
    manifest: dict

    @property
    def program_path(self) -> Path:
        return self.path / self.manifest["program"]

    @property
    def batch(self) -> int:
        """Sequences per run: the program's batch on every chip of its mesh."""
        return self.manifest["batch"] * self.runner["chips"]

    @property
    def runner(self) -> dict:
        """manifest `runner` (compiler/runner.py); builds before issue 17: the eager one-chip runner."""
        return self.manifest.get("runner") or {"trace": False, "command_queues": 1, "mesh_shape": [1, 1], "chips": 1,
                                               "batch_per_chip": self.manifest["batch"], "trace_region_size": 0}

    @property
    def seq_len(self) -> int:
        return self.manifest["seq_len"]


def load_build(path: str | Path, allow_modified_program: bool = False, log=None) -> Build:
    """Check a build directory before anything of it runs. Running a build executes its program.py, so its sha256
    must be the one the compiler wrote into manifest.json, unless the caller explicitly allows a modified program."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"build directory {path} does not exist; create it with: python -m compiler build --arch wh --batch 7 -o {path}")
    mf = path / "manifest.json"
    try:
        manifest = json.loads(read_regular(mf).decode("utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path} has no manifest.json: not a build directory; rebuild with python -m compiler build") from None
    except NotARegularFile as e:
        raise UserError(f"{mf}: {e.strerror}; rebuild with python -m compiler build") from None
    except RecursionError:
        raise UserError(f"{mf} is nested too deeply to be a manifest; rebuild with python -m compiler build") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"{mf} is unreadable ({e.__class__.__name__}); rebuild with python -m compiler build") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT or "program" not in manifest:
        raise UserError(f"{mf} is not a manifest of this compiler version; rebuild with python -m compiler build")
    _check_fields(mf, manifest)
    program = path / manifest["program"]
    try:
        digest = hashlib.sha256(read_regular(program)).hexdigest()
    except NotARegularFile as e:
        raise UserError(f"{program}: {e.strerror}; rebuild with python -m compiler build") from None
    except OSError:
        raise UserError(f"{program} is missing; rebuild with python -m compiler build") from None
    if digest != manifest.get("program_sha256"):
        if not allow_modified_program:
            raise UserError(f"{program} does not match its manifest (its sha256 is not the program_sha256 written at "
                            f"build time): it was modified after the build, and running it would execute that code; "
                            f"rebuild with python -m compiler build, or pass --allow-modified-program if you edited it "
                            f"yourself")
        if log:
            log(f"warning: running {program}, modified after the build (--allow-modified-program)")
    return Build(path, manifest)


def _is_int(v, lo=1) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= lo


def _is_grid(v) -> bool:
    return isinstance(v, list) and len(v) == 2 and all(_is_int(x) for x in v)


# The manifest fields the runtime reads, with their checks (program_sha256 only covers program.py).
_FIELDS = {
    "program": lambda v: isinstance(v, str) and v and "/" not in v and "\\" not in v and v not in (".", ".."),
    "program_sha256": lambda v: isinstance(v, str) and len(v) == 64,
    "batch": _is_int, "seq_len": _is_int, "device": lambda v: isinstance(v, str), "grid": _is_grid,
    "required_env": lambda v: v is None or isinstance(v, dict) and all(isinstance(x, str) for x in [*v, *v.values()]),
    "model.name": lambda v: isinstance(v, str) and v, "model.config_hash": lambda v: isinstance(v, str),
    "model.vocab_size": _is_int, "device_spec.l1_bytes_per_core": _is_int, "device_spec.dram_channels": _is_int,
    "device_spec.grid": _is_grid,
}


def _check_fields(mf: Path, manifest: dict) -> None:
    for key, ok in _FIELDS.items():
        value, parts = manifest, key.split(".")
        for part in parts:
            if not isinstance(value, dict) or part not in value:
                if key == "required_env":
                    value = None
                    break
                raise UserError(f"{mf}: missing key '{key}'; rebuild with python -m compiler build")
            value = value[part]
        if not ok(value):
            raise UserError(f"{mf}: key '{key}' has an invalid value {str(value)[:80]!r}; rebuild with python -m compiler build")


def import_program(build: Build, ttnn_module: ModuleType) -> ModuleType:
    """Import program.py with `import ttnn` bound to the given backend (real ttnn or the emulator)."""
    name = f"tt_program_{build.manifest['program_sha256'][:12]}"
    spec = importlib.util.spec_from_file_location(name, build.program_path)
    module = importlib.util.module_from_spec(spec)
    saved = {k: sys.modules.get(k) for k in ("ttnn", "ttnn.transformer", "ttnn.experimental")}
    sys.modules["ttnn"] = ttnn_module
    sys.modules["ttnn.transformer"] = ttnn_module.transformer
    sys.modules["ttnn.experimental"] = ttnn_module.experimental
    try:
        spec.loader.exec_module(module)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    return module
