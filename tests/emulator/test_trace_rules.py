"""Emulated mesh, command queues, events and trace: each rule a trace imposes is refused by name, replay gives what
eager ops give on the new inputs, and every chip of a mesh keeps its own L1."""
import pytest
import torch

import runtime.emulator as emulator
from runtime.emulator import EmulatorError
from runtime.emulator import ttnn

L1 = ttnn.L1_MEMORY_CONFIG


@pytest.fixture
def mesh():
    emulator.set_device_spec("wormhole_n300", chips=2)
    m = ttnn.open_mesh_device(ttnn.MeshShape(1, 2), trace_region_size=4 << 20, num_command_queues=2)
    yield m
    ttnn.close_mesh_device(m)
    emulator.set_device_spec("wormhole_n300")


def _host(t):
    return ttnn.from_torch(t, dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT,
                           mesh_mapper=ttnn.shard_tensor_to_mesh_mapper(_host.mesh, 0))


def _setup(mesh, seed=0):
    g = torch.Generator().manual_seed(seed)
    _host.mesh = mesh
    x = ttnn.to_device(_host(torch.randn(4, 1, 64, 64, generator=g)), mesh, memory_config=L1)
    w = ttnn.to_device(ttnn.from_torch(torch.randn(64, 64, generator=g), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT),
                       mesh, memory_config=ttnn.DRAM_MEMORY_CONFIG)
    return x, w


def _gather(t, mesh):
    return ttnn.to_torch(t, mesh_composer=ttnn.concat_mesh_to_tensor_composer(mesh, 0))


def _capture(mesh, x, w):
    tid = ttnn.begin_trace_capture(mesh, cq_id=0)
    product = ttnn.matmul(x, w, memory_config=L1)
    out = ttnn.add(product, x, memory_config=L1)
    ttnn.deallocate(product)
    ttnn.end_trace_capture(mesh, tid, cq_id=0)
    return tid, out


def test_replay_computes_on_the_new_inputs_in_the_captured_buffers(mesh):
    x, w = _setup(mesh)
    tid, out = _capture(mesh, x, w)
    address = out.buffer_address()
    new = torch.randn(4, 1, 64, 64)
    ttnn.copy_host_to_device_tensor(_host(new), x, cq_id=0)
    ttnn.execute_trace(mesh, tid, cq_id=0, blocking=False)
    eager = ttnn.add(ttnn.matmul(x, w, memory_config=L1), x, memory_config=L1)
    assert torch.equal(_gather(out, mesh), _gather(eager, mesh))
    assert out.buffer_address() == address
    # the replay really used the new input: the result differs from the first input's
    assert torch.equal(_gather(x, mesh).float(), new.bfloat16().float())


@pytest.mark.parametrize("what", ["from_torch", "to_device", "copy_host_to_device_tensor", "to_torch", "from_device"])
def test_no_host_transfer_inside_capture(mesh, what):
    x, w = _setup(mesh)
    ttnn.begin_trace_capture(mesh, cq_id=0)
    calls = {
        "from_torch": lambda: ttnn.from_torch(torch.zeros(4, 64), dtype=ttnn.bfloat16, device=mesh,
                                              mesh_mapper=ttnn.shard_tensor_to_mesh_mapper(mesh, 0)),
        "to_device": lambda: ttnn.to_device(_host(torch.zeros(4, 1, 64, 64)), mesh, memory_config=L1),
        "copy_host_to_device_tensor": lambda: ttnn.copy_host_to_device_tensor(_host(torch.zeros(4, 1, 64, 64)), x),
        "to_torch": lambda: _gather(x, mesh),
        "from_device": lambda: ttnn.from_device(x),
    }
    with pytest.raises(EmulatorError, match=r"\[trace_capture_host_transfer\]"):
        calls[what]()


def test_allocation_inside_capture_is_refused(mesh):
    _setup(mesh)
    ttnn.begin_trace_capture(mesh, cq_id=0)
    with pytest.raises(EmulatorError, match=r"\[trace_capture_allocation\]"):
        ttnn.allocate_tensor_on_device(ttnn.Shape([2, 1, 64, 64]), ttnn.bfloat16, ttnn.TILE_LAYOUT, mesh, L1)


def test_allocation_inside_capture_that_takes_back_a_freed_address_is_allowed(mesh):
    x, w = _setup(mesh)
    address = x.buffer_address()
    tid = ttnn.begin_trace_capture(mesh, cq_id=0)
    out = ttnn.matmul(x, w, memory_config=L1)
    ttnn.deallocate(x)                # sentence_bert's runner: the model frees its input inside capture ...
    again = ttnn.allocate_tensor_on_device(ttnn.Shape([2, 1, 64, 64]), ttnn.bfloat16, ttnn.TILE_LAYOUT, mesh, L1)
    ttnn.end_trace_capture(mesh, tid, cq_id=0)
    assert again.buffer_address() == address and out.is_allocated()   # ... and takes the address back


def test_replay_needs_its_inputs_at_their_captured_addresses(mesh):
    x, w = _setup(mesh)
    tid, out = _capture(mesh, x, w)
    ttnn.deallocate(x)
    with pytest.raises(EmulatorError, match=r"\[trace_fixed_input_address\]"):
        ttnn.execute_trace(mesh, tid, cq_id=0)


def test_buffer_allocated_after_capture_over_the_traces_buffers_is_refused(mesh):
    x, w = _setup(mesh)
    tid, out = _capture(mesh, x, w)      # the matmul's output was freed inside the capture: its range is the trace's
    late = ttnn.to_device(_host(torch.zeros(4, 1, 64, 64)), mesh, memory_config=L1)
    with pytest.raises(EmulatorError, match=r"\[trace_buffer_corruption\]"):
        ttnn.execute_trace(mesh, tid, cq_id=0)
    ttnn.deallocate(late)
    ttnn.execute_trace(mesh, tid, cq_id=0)   # gone again: the replay may run


def test_trace_must_fit_the_trace_region():
    emulator.set_device_spec("wormhole_n300", chips=2)
    small = ttnn.open_mesh_device(ttnn.MeshShape(1, 2), trace_region_size=1024, num_command_queues=2)
    try:
        x, w = _setup(small)
        with pytest.raises(EmulatorError, match=r"\[trace_region_size\]"):
            _capture(small, x, w)
    finally:
        ttnn.close_mesh_device(small)
        emulator.set_device_spec("wormhole_n300")


def test_queue_reads_a_write_of_the_other_queue_only_after_waiting_for_its_event(mesh):
    x, w = _setup(mesh)
    ttnn.copy_host_to_device_tensor(_host(torch.ones(4, 1, 64, 64)), x, cq_id=1)
    with pytest.raises(EmulatorError, match=r"\[cq_read_before_write_done\]"):
        ttnn.matmul(x, w)
    ttnn.wait_for_event(0, ttnn.record_event(mesh, 1))
    ttnn.matmul(x, w)


def test_queue_overwrites_what_the_other_queue_reads_only_after_waiting(mesh):
    x, w = _setup(mesh)
    ttnn.copy_host_to_device_tensor(_host(torch.ones(4, 1, 64, 64)), x, cq_id=1)
    ttnn.wait_for_event(0, ttnn.record_event(mesh, 1))
    ttnn.matmul(x, w)                           # CQ 0 reads x
    with pytest.raises(EmulatorError, match=r"\[cq_write_before_read_done\]"):
        ttnn.copy_host_to_device_tensor(_host(torch.ones(4, 1, 64, 64)), x, cq_id=1)
    ttnn.wait_for_event(1, ttnn.record_event(mesh, 0))
    ttnn.copy_host_to_device_tensor(_host(torch.ones(4, 1, 64, 64)), x, cq_id=1)


def test_non_blocking_read_is_used_only_after_synchronize(mesh):
    x, _ = _setup(mesh)
    host = ttnn.from_device(x, blocking=False)
    with pytest.raises(EmulatorError, match=r"\[read_before_synchronize\]"):
        _gather(host, mesh)
    ttnn.synchronize_device(mesh)
    assert _gather(host, mesh).shape == (4, 1, 64, 64)


def test_queue_ids_beyond_the_opened_queues_are_refused():
    emulator.set_device_spec("wormhole_n300", chips=1)
    one = ttnn.open_mesh_device(ttnn.MeshShape(1, 1), num_command_queues=1)
    try:
        with pytest.raises(EmulatorError, match=r"\[command_queue\]"):
            ttnn.record_event(one, 1)
    finally:
        ttnn.close_mesh_device(one)
        emulator.set_device_spec("wormhole_n300")


def test_mesh_larger_than_the_system_is_refused():
    emulator.set_device_spec("wormhole_n300", chips=2)
    try:
        with pytest.raises(EmulatorError, match=r"\[mesh_chip_count\]"):
            ttnn.open_mesh_device(ttnn.MeshShape(1, 8))
    finally:
        emulator.set_device_spec("wormhole_n300")


def test_every_chip_keeps_its_own_l1_and_its_shard(mesh):
    data = torch.arange(4 * 64 * 64, dtype=torch.float32).reshape(4, 1, 64, 64)
    _host.mesh = mesh
    x = ttnn.to_device(_host(data), mesh, memory_config=L1)
    chips = mesh.devices
    per_chip = [c.l1_allocated_bytes_per_core() for c in chips]
    assert per_chip[0] == per_chip[1] > 0
    only_first = ttnn.to_device(ttnn.from_torch(torch.zeros(32, 32), dtype=ttnn.bfloat16, layout=ttnn.TILE_LAYOUT),
                                chips[0], memory_config=L1)
    assert chips[0].l1_allocated_bytes_per_core() > per_chip[0] and chips[1].l1_allocated_bytes_per_core() == per_chip[1]
    shards = ttnn.get_device_tensors(x)
    assert torch.equal(ttnn.to_torch(shards[1]).float(), data[2:].bfloat16().float())
    ttnn.deallocate(only_first)
