"""Graph capture on the emulator, in the JSON form ttnn's own capture writes (version 1), so the real
`ttnn.graph_report` importer turns it into a ttnn-visualizer database.

The node kinds and fields are those the 0.81.1 wheel's ttnn/graph_report.py reads: `function_start` /
`function_end` (params.name; input_tensors and the end's connections point at `tensor` nodes),
`tensor` (tensor_id, shape, dtype, layout, memory_config, device_id, address, buffer_type, storage_type),
`buffer_allocate` (address, size, page_size, num_cores, buffer_type, layout, max_size_per_bank) and
`buffer_deallocate` (address), between `capture_start` and `capture_end`; plus `devices` and `metadata.rank`.
Buffers are the emulated device's L1 buffers at the addresses its allocator (kernels/allocator.py) gave them;
DRAM buffers carry no address in the emulator and are left out.

    cap = Capture(device, ttnn_module)      # wraps the ttnn entry points a program calls
    ... run the program ...
    report = cap.finish()                    # dict; json.dump it
"""
from __future__ import annotations

import itertools
import time
import weakref

# The entry points an emitted program calls, per namespace (docs/emitted-program-contract.md).
_OPS = {
    "": ("embedding", "add", "layer_norm", "linear", "matmul", "scale_mask_softmax_in_place", "interleaved_to_sharded",
         "sharded_to_interleaved", "reshape", "deallocate", "from_torch", "to_device", "to_torch"),
    "experimental": ("split_query_key_value_and_split_heads", "nlp_concat_heads"),
    "transformer": ("split_query_key_value_and_split_heads",),
}
L1, DRAM = 1, 0      # BufferType values as the importer stores them


class Capture:
    def __init__(self, device, ttnn_module):
        self.device, self.ttnn = device, ttnn_module
        self.nodes: list[dict] = []
        self.level = 0
        self._ids = weakref.WeakKeyDictionary()
        self._next_id = itertools.count(1)
        self._patched: list[tuple[object, str, object]] = []
        self._stack: list[float] = []
        self._node("capture_start", {})
        device.capture = self
        for ns, names in _OPS.items():
            mod = getattr(ttnn_module, ns) if ns else ttnn_module
            for name in names:
                fn = getattr(mod, name, None)
                if fn is not None:
                    self._patched.append((mod, name, fn))
                    setattr(mod, name, self._wrap(f"ttnn.{ns + '.' if ns else ''}{name}", fn))

    # ---- nodes -------------------------------------------------------------------------------------
    def _node(self, node_type: str, params: dict, **extra) -> int:
        counter = len(self.nodes)
        node = {"counter": counter, "node_type": node_type, "params": params, "connections": [], "arguments": [],
                "input_tensors": [], "stacking_level": self.level}
        node.update(extra)
        self.nodes.append(node)
        return counter

    def tensor_node(self, t) -> int:
        tid = self._ids.get(t)
        if tid is None:
            tid = self._ids[t] = next(self._next_id)
        on_device = t.device() is not None
        address = t.buffer_address() if on_device else None
        mc = t.memory_config() if on_device else None
        params = {"tensor_id": str(tid), "shape": f"Shape({list(t.shape)})", "dtype": f"DataType::{t.dtype.name}",
                  "layout": f"Layout::{t.layout.name}", "storage_type": "DEVICE" if on_device else "HOST"}
        if on_device:
            params.update(memory_config=repr(mc), device_id="0",
                          buffer_type=str(L1 if mc.buffer_type.name == "L1" else DRAM))
            if address is not None:
                params["address"] = str(address)
        return self._node("tensor", params)

    def buffer_allocate(self, address, size: int, num_cores: int, layout: str) -> None:
        if address is None:
            return
        self._node("buffer_allocate", {"device_id": "0", "address": str(address), "size": str(size * max(num_cores, 1)),
                                       "page_size": str(size), "num_cores": str(num_cores), "buffer_type": str(L1),
                                       "layout": layout, "max_size_per_bank": str(size)})

    def buffer_deallocate(self, address: int) -> None:
        self._node("buffer_deallocate", {"device_id": "0", "address": str(address)})

    # ---- ops ---------------------------------------------------------------------------------------
    def _wrap(self, name: str, fn):
        from .ttnn.tensor import Tensor

        def tensors(obj):
            if isinstance(obj, Tensor):
                yield obj
            elif isinstance(obj, (list, tuple)):
                for o in obj:
                    yield from tensors(o)
            elif isinstance(obj, dict):
                for o in obj.values():
                    yield from tensors(o)

        def wrapper(*args, **kwargs):
            ins = [self.tensor_node(t) for t in tensors((args, kwargs))]
            start = self._node("function_start", {"name": name, "inputs": str(len(ins))}, input_tensors=ins,
                               arguments=[_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()])
            self.level += 1
            t0 = time.perf_counter()
            try:
                result = fn(*args, **kwargs)
            finally:
                self.level -= 1
            end = self._node("function_end", {"name": name}, duration_ns=int((time.perf_counter() - t0) * 1e9))
            self.nodes[end]["connections"] = [self.tensor_node(t) for t in tensors(result)]
            return result

        wrapper.__wrapped__ = fn
        return wrapper

    def finish(self) -> dict:
        """Restore the entry points and return the report (version 1)."""
        for mod, name, fn in reversed(self._patched):
            setattr(mod, name, fn)
        self._patched.clear()
        self.device.capture = None
        self._node("capture_end", {})
        spec = self.device.spec
        gx, gy = spec.grid
        usable = self.device.l1_allocator.size
        cores = gx * gy
        dev = {"device_id": 0, "num_x_cores": gx, "num_y_cores": gy, "num_x_compute_cores": gx,
               "num_y_compute_cores": gy, "worker_l1_size": spec.l1_bytes, "l1_num_banks": cores,
               "l1_bank_size": usable, "address_at_first_l1_bank": spec.l1_unreserved_base,
               "address_at_first_l1_cb_buffer": spec.l1_unreserved_base, "num_banks_per_storage_core": 0,
               "num_compute_cores": cores, "num_storage_cores": 0, "total_l1_memory": spec.l1_bytes * cores,
               "total_l1_for_tensors": usable * cores, "total_l1_for_interleaved_buffers": usable * cores,
               "total_l1_for_sharded_buffers": usable * cores, "cb_limit": usable,
               "num_dram_channels": spec.dram_banks}
        return {"version": 1, "graph": self.nodes, "devices": [dev],
                "metadata": {"rank": 0, "world_size": 1, "source": "tt-bert-compiler host emulator",
                             "device": spec.name, "arch": spec.arch}}


def _short(v) -> str:
    s = repr(v)
    return s if len(s) <= 200 else s[:197] + "..."
