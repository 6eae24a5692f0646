"""Environment for running the real ttnn on a machine with no Tenstorrent hardware.

Import and call :func:`configure` *before* ``import ttnn``.  Runs in the ttnn venv.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

DESCRIPTOR_DIR = Path(__file__).resolve().parent / "cluster_descriptors"
DESCRIPTORS = {
    "wormhole_n300": DESCRIPTOR_DIR / "wormhole_n300.yaml",
    "grayskull_e150": DESCRIPTOR_DIR / "grayskull_e150.yaml",
}
DEFAULT_TARGET = "wormhole_n300"


def configure(target: str = DEFAULT_TARGET, *, override: bool = False) -> dict[str, str]:
    """Point ttnn at a mock cluster descriptor and a private cache folder.

    Existing settings are kept unless ``override`` is true.  Returns the values in effect.
    """
    desc = DESCRIPTORS[target]
    if override or not os.environ.get("TT_METAL_MOCK_CLUSTER_DESC_PATH"):
        os.environ["TT_METAL_MOCK_CLUSTER_DESC_PATH"] = str(desc)
    if override or not os.environ.get("TT_METAL_CACHE"):
        cache = tempfile.mkdtemp(prefix="tt-metal-cache-")
        atexit.register(shutil.rmtree, cache, ignore_errors=True)
        os.environ["TT_METAL_CACHE"] = cache
    # ttnn logs at DEBUG level to stderr on import; keep the console readable.
    os.environ.setdefault("TT_LOGGER_LEVEL", "FATAL")
    os.environ.setdefault("LOGURU_LEVEL", "WARNING")
    return {k: os.environ[k] for k in ("TT_METAL_MOCK_CLUSTER_DESC_PATH", "TT_METAL_CACHE")}
