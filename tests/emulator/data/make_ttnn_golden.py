"""Regenerate ``ttnn_golden_formats.npz`` from the real ttnn host packer.

Run with a Python that has the real ``ttnn`` 0.81.1 wheel installed (it needs
no device, only a mock cluster descriptor), e.g.::

    /tmp/ttnn-venv/bin/python tests/emulator/data/make_ttnn_golden.py

The emulator's ``runtime.emulator.formats`` must reproduce every array in the
file bit for bit (see tests/emulator/test_formats.py).  The script only uses
host-side tensor conversion (``ttnn.Tensor(...).to_numpy()`` and
``ttnn.to_dtype``); it never runs a device op.
"""
import os
import sys
import tempfile

import numpy as np

MOCK_CLUSTER_YAML = """\
arch:
  0: wormhole_b0
chips:
  0:
    - 0
    - 0
    - 0
    - 0
ethernet_connections:
  []
chips_with_mmio:
  - 0: 0
harvesting:
  0:
    noc_translation: true
    harvest_mask: 64
    dram_harvesting_mask: 0
    eth_harvesting_mask: 0
    pcie_harvesting_mask: 0
chip_to_boardtype:
  0: n150
boards:
  -
    - board_id: 72059269368820857
    - board_type: n150
    - chips:
        - 0
"""


def make_inputs():
    rs = np.random.RandomState(1234)
    cases = {}
    # wide exponent spread inside every 16-group
    cases["wide"] = (rs.randn(64, 128) * np.exp(3.0 * rs.randn(64, 128))).astype(np.float32)
    # values on coarse grids -> many exact ties after alignment
    g = rs.randint(-(2 ** 12), 2 ** 12, size=(64, 64)).astype(np.float32) * np.float32(2.0 ** -12)
    g[:, ::16] = 1.0  # make the group exponent 127 everywhere
    cases["ties"] = g
    # ties that are only ties after the truncating shift (bits below the cut)
    t = np.zeros((32, 64), dtype=np.float32)
    base = rs.randint(0, 2 ** 7, size=(32, 64)).astype(np.float32) + 0.5
    extra = rs.randint(0, 4, size=(32, 64)).astype(np.float32) * np.float32(2.0 ** -10)
    t[:] = (base + extra) * np.float32(2.0 ** -8) * np.where(rs.rand(32, 64) < 0.5, -1, 1)
    t[:, ::16] = np.float32(1.75)
    cases["trunc_ties"] = t.astype(np.float32)
    # saturation: group maxima whose mantissa rounds up past 127
    s = rs.uniform(-1.0, 1.0, size=(32, 64)).astype(np.float32)
    s[:, ::16] = np.float32(1.999)
    s[:, 1::16] = np.float32(-1.9961)
    s[:, 2::16] = np.float32(1.9921875)  # exact 127.5 -> tie -> even 128 -> saturate
    cases["saturate"] = s
    # zeros, negative zeros, subnormals, tiny normals
    z = rs.randn(32, 64).astype(np.float32)
    z[0, :16] = 0.0
    z[1, :16] = -0.0
    z[2, :16] = np.float32(1e-40)  # all subnormal
    z[3, :16] = np.float32(1e-40)
    z[3, 5] = np.float32(1e-37)  # tiny normal with subnormals
    z[4, :] = np.float32(3e-36) * rs.randn(64).astype(np.float32)  # tiny exponents (< 24)
    z[5, :] = np.float32(1e-38) * rs.randn(64).astype(np.float32)
    z[6, ::3] = 0.0
    z[7, 1::2] = -0.0
    z[8, :16] = np.float32(2.0 ** -126)
    z[9, :16] = np.float32(2.0 ** -104) * rs.rand(16).astype(np.float32)
    cases["zeros_subnormals"] = z
    # huge values (group exponent above 237)
    h = rs.randn(32, 64).astype(np.float32)
    h[0, :] = np.float32(1e37) * rs.randn(64).astype(np.float32)
    h[1, :] = np.float32(3e38) * rs.rand(64).astype(np.float32)
    h[2, :] = np.float32(1e30) * rs.randn(64).astype(np.float32)
    cases["huge"] = h
    # special values
    sp = rs.randn(32, 64).astype(np.float32)
    sp[0, 3] = np.inf
    sp[1, 7] = -np.inf
    sp[2, 9] = np.nan
    cases["special"] = sp
    # shapes that are not tile aligned, and higher rank
    cases["ragged"] = rs.randn(40, 50).astype(np.float32)
    cases["rank4"] = (rs.randn(2, 3, 32, 64) * 10).astype(np.float32)
    # a normal-ish activation
    cases["normal"] = rs.randn(64, 256).astype(np.float32)
    return cases


def main(out_path):
    tmp = tempfile.mkdtemp()
    yaml_path = os.path.join(tmp, "cluster.yaml")
    with open(yaml_path, "w") as f:
        f.write(MOCK_CLUSTER_YAML)
    os.environ["TT_METAL_MOCK_CLUSTER_DESC_PATH"] = yaml_path
    os.environ["TT_METAL_CACHE"] = os.path.join(tmp, "cache")
    import ttnn

    arrays = {}
    for name, x in make_inputs().items():
        arrays[f"in_{name}"] = x
        for dname, dt in (("bfp8", ttnn.bfloat8_b), ("bfp4", ttnn.bfloat4_b)):
            y = ttnn.Tensor(x, dt, layout=ttnn.TILE_LAYOUT).to_numpy()
            arrays[f"{dname}_{name}"] = np.asarray(y, dtype=np.float32)
        # bfloat16 conversion from fp32
        b = ttnn.Tensor(x, ttnn.bfloat16, layout=ttnn.TILE_LAYOUT)
        arrays[f"bf16_{name}"] = np.asarray(ttnn.to_dtype(b, ttnn.float32).to_numpy(), dtype=np.float32)
        # bfloat8_b from a bfloat16 tensor ("round from what you have")
        for dname, dt in (("bfp8", ttnn.bfloat8_b), ("bfp4", ttnn.bfloat4_b)):
            q = ttnn.to_dtype(b, dt)
            arrays[f"{dname}frombf16_{name}"] = np.asarray(q.to_numpy(), dtype=np.float32)
    np.savez_compressed(out_path, **arrays)
    print("wrote", out_path, len(arrays), "arrays")


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "ttnn_golden_formats.npz"))
