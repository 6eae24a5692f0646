import pytest

import runtime.emulator as emulator
from runtime.emulator import ttnn as emu_ttnn


@pytest.fixture
def ttnn():
    """The emulated ttnn package (not installed into sys.modules)."""
    return emu_ttnn


def _open(spec_name="wormhole_n300", **overrides):
    emulator.set_device_spec(spec_name, **overrides)
    for dev in list(emu_ttnn.operations._open_devices.values()):
        emu_ttnn.close_device(dev)
    return emu_ttnn.open_device(device_id=0)


@pytest.fixture
def device():
    """A fresh Wormhole N300 (8x7 grid, 1,499,136 B L1 per core)."""
    dev = _open("wormhole_n300")
    yield dev
    emu_ttnn.close_device(dev)
    emulator.set_device_spec("wormhole_n300")


@pytest.fixture
def small_device():
    """A 2x2-core device with 64 KiB L1 per core (hand-computable accounting)."""
    dev = _open("tiny", arch="wormhole_b0", grid=(2, 2), l1_bytes=65536, dram_banks=2)
    yield dev
    emu_ttnn.close_device(dev)
    emulator.set_device_spec("wormhole_n300")


@pytest.fixture
def documented_semantics():
    """Run an op test under the emulator's fp32 executor: the op's meaning (layouts, configs, GELU choice, no-max
    softmax) without the device's rounding. Tests whose float32 references predate the device-arithmetic model use
    it; that arithmetic (fidelity phases, bf16 Dst, intermediate formats) is tested in test_compute_numerics.py."""
    from runtime.emulator import formats

    with formats.numerics("fp32"):
        yield
