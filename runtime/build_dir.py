"""A build directory as the runtime sees it: manifest.json + program.py, checked before use."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from compiler.errors import UserError

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
        return self.manifest["batch"]

    @property
    def seq_len(self) -> int:
        return self.manifest["seq_len"]


def load_build(path: str | Path) -> Build:
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"build directory {path} does not exist; create it with: python -m compiler build --arch wh --batch 7 -o {path}")
    mf = path / "manifest.json"
    try:
        manifest = json.loads(mf.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path} has no manifest.json: not a build directory; rebuild with python -m compiler build") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"{mf} is unreadable ({e.__class__.__name__}); rebuild with python -m compiler build") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT or "program" not in manifest:
        raise UserError(f"{mf} is not a manifest of this compiler version; rebuild with python -m compiler build")
    program = path / manifest["program"]
    try:
        digest = hashlib.sha256(program.read_bytes()).hexdigest()
    except OSError:
        raise UserError(f"{program} is missing; rebuild with python -m compiler build") from None
    if digest != manifest.get("program_sha256"):
        raise UserError(f"{program} does not match its manifest (edited or corrupted); rebuild with python -m compiler build")
    return Build(path, manifest)


def import_program(build: Build, ttnn_module: ModuleType) -> ModuleType:
    """Import program.py with `import ttnn` bound to the given backend (real ttnn or the emulator)."""
    name = f"tt_program_{build.manifest['program_sha256'][:12]}"
    spec = importlib.util.spec_from_file_location(name, build.program_path)
    module = importlib.util.module_from_spec(spec)
    saved = {k: sys.modules.get(k) for k in ("ttnn", "ttnn.transformer")}
    sys.modules["ttnn"] = ttnn_module
    sys.modules["ttnn.transformer"] = ttnn_module.transformer
    try:
        spec.loader.exec_module(module)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    return module
