"""Host emulator of Tenstorrent chips behind a ttnn-0.81-compatible package.

Public API:

* ``set_device_spec(name=..., arch=..., grid=(x, y), l1_bytes=..., dram_banks=...)``
  / ``get_device_spec()`` / ``DEVICE_PRESETS`` (runtime/emulator/device.py);
* ``install()`` / ``uninstall()`` / ``emulated_ttnn()``: put the emulator's
  ``ttnn`` package into ``sys.modules['ttnn']`` (and its submodules
  ``ttnn.transformer``, ``ttnn.experimental``, ``ttnn.device``) so an emitted program's
  ``import ttnn`` uses it;
* ``ttnn``: the emulated package itself (``runtime.emulator.ttnn``);
* ``formats``: bit-exact bfloat16 / bfloat8_b / bfloat4_b host conversions;
* ``host_pack``: many host tensors in one checksummed file (the weight cache's format);
* errors: ``EmulatorError`` and its subclasses (runtime/emulator/errors.py);
* ``api_surface.emulator_api_surface()``: {qualified name: [keyword names]}.
"""

from __future__ import annotations

import contextlib
import sys

from . import formats  # noqa: F401
from .formats import set_numerics  # noqa: F401  (fp32 executor: documented semantics without device rounding)
from .device import DEVICE_PRESETS, Device, DeviceSpec, get_device_spec, set_device_spec  # noqa: F401
from .errors import (  # noqa: F401
    DeallocatedTensorError,
    EmulatorError,
    L1OutOfMemoryError,
    OpInputError,
    PlacementError,
    ProgramConfigError,
    UnsupportedError,
)
from . import ttnn  # noqa: F401,E402
from . import host_pack  # noqa: F401,E402

_SUBMODULES = ("transformer", "experimental", "device")
_saved = None


def install(tune_allocator: bool = True):
    """Make ``import ttnn`` return the emulator; returns the module.

    ``tune_allocator`` applies ``formats.tune_allocator()`` (keeps glibc from
    unmapping large blocks; several times faster ops on big tensors).
    """
    global _saved
    if _saved is None:
        _saved = {k: sys.modules.get(k) for k in ("ttnn",) + tuple(f"ttnn.{s}" for s in _SUBMODULES)}
    sys.modules["ttnn"] = ttnn
    for s in _SUBMODULES:
        sys.modules[f"ttnn.{s}"] = getattr(ttnn, s)
    if tune_allocator:
        formats.tune_allocator()
    return ttnn


def uninstall() -> None:
    """Restore whatever ``sys.modules['ttnn']`` held before ``install()``."""
    global _saved
    if _saved is None:
        return
    for k, v in _saved.items():
        if v is None:
            sys.modules.pop(k, None)
        else:
            sys.modules[k] = v
    _saved = None


@contextlib.contextmanager
def emulated_ttnn(spec: str | None = None, **spec_overrides):
    """``with emulated_ttnn("wormhole_n300"): exec(program)`` — installs, optionally sets the spec."""
    previous = get_device_spec()
    already = sys.modules.get("ttnn") is ttnn
    if spec is not None or spec_overrides:
        set_device_spec(spec or previous.name, **spec_overrides)
    install()
    try:
        yield ttnn
    finally:
        if not already:
            uninstall()
        if spec is not None or spec_overrides:
            import dataclasses  # restore the previous spec exactly

            set_device_spec(previous.name, **{f.name: getattr(previous, f.name)
                                              for f in dataclasses.fields(previous) if f.name != "name"})
