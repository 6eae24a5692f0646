"""``ttnn.device``: Arch, Device, dispatch core types, open/close (emulated)."""

from ..device import Device  # noqa: F401
from .operations import (  # noqa: F401
    DEFAULT_L1_SMALL_SIZE,
    DEFAULT_TRACE_REGION_SIZE,
    close_device,
    open_device,
    synchronize_device,
)
from .types import Arch, DispatchCoreAxis, DispatchCoreConfig, DispatchCoreType  # noqa: F401


def is_wormhole_b0(device=None) -> bool:
    from ..device import get_device_spec

    spec = device.spec if device is not None else get_device_spec()
    return spec.arch == "wormhole_b0"


def is_grayskull(device=None) -> bool:
    from ..device import get_device_spec

    spec = device.spec if device is not None else get_device_spec()
    return spec.arch == "grayskull"


def is_blackhole(device=None) -> bool:
    from ..device import get_device_spec

    spec = device.spec if device is not None else get_device_spec()
    return spec.arch == "blackhole"
