"""Host emulator of the ttnn 0.81 API surface used by the compiled BERT programs.

Installed as ``sys.modules['ttnn']`` by ``runtime.emulator.install()`` (or the
``runtime.emulator.emulated_ttnn()`` context manager) so that an emitted
program's ``import ttnn`` gets this package.  Names, parameters and defaults
follow the real ttnn 0.81.1; see docs/emitted-program-contract.md for the
calls a compiled program makes and runtime/emulator/api_surface.py for the
list of emulated entry points.
"""

from ..device import DeviceSpec, get_device_spec, set_device_spec  # noqa: F401
from ..errors import (  # noqa: F401
    DeallocatedTensorError,
    EmulatorError,
    L1OutOfMemoryError,
    OpInputError,
    PlacementError,
    ProgramConfigError,
    UnsupportedError,
)
from . import device  # noqa: F401  (ttnn.device submodule)
from . import transformer  # noqa: F401  (ttnn.transformer submodule)
from . import experimental  # noqa: F401  (ttnn.experimental submodule)
from .device import Device  # noqa: F401
from .operations import (  # noqa: F401
    DEFAULT_L1_SMALL_SIZE,
    DEFAULT_TRACE_REGION_SIZE,
    add,
    close_device,
    deallocate,
    dump_tensor,
    embedding,
    from_device,
    from_torch,
    interleaved_to_sharded,
    layer_norm,
    linear,
    load_tensor,
    matmul,
    open_device,
    reshape,
    scale_mask_softmax_in_place,
    sharded_to_interleaved,
    synchronize_device,
    to_device,
    to_layout,
    to_torch,
)
from .program_configs import (  # noqa: F401
    LayerNormDefaultProgramConfig,
    LayerNormShardedMultiCoreProgramConfig,
    MatmulMultiCoreReuseMultiCastProgramConfig,
    MatmulMultiCoreReuseProgramConfig,
    SoftmaxDefaultProgramConfig,
    SoftmaxShardedMultiCoreProgramConfig,
)
from .tensor import Tensor  # noqa: F401
from .compute_config import (  # noqa: F401
    GrayskullComputeKernelConfig,
    ThrottleLevel,
    WormholeComputeKernelConfig,
    init_device_compute_kernel_config,
)
from .types import MathFidelity  # noqa: F401
from .types import DispatchCoreAxis, DispatchCoreConfig, DispatchCoreType  # noqa: F401
from .types import (  # noqa: F401
    DRAM_MEMORY_CONFIG,
    L1_BLOCK_SHARDED_MEMORY_CONFIG,
    L1_HEIGHT_SHARDED_MEMORY_CONFIG,
    L1_MEMORY_CONFIG,
    L1_WIDTH_SHARDED_MEMORY_CONFIG,
    Arch,
    BufferType,
    CoreCoord,
    CoreGrid,
    CoreRange,
    CoreRangeSet,
    DataType,
    DumpTensorMode,
    EmbeddingsType,
    Layout,
    MemoryConfig,
    Shape,
    ShardOrientation,
    ShardSpec,
    StorageType,
    TensorMemoryLayout,
    TileReshapeMapMode,
    UnaryOpType,
    UnaryWithParam,
)

from . import multi_device as _multi_device
from . import trace as _trace
from .multi_device import (  # noqa: F401
    ConcatMeshToTensor,
    MeshDevice,
    MeshShape,
    ReplicateTensorToMesh,
    ShardTensorToMesh,
    close_mesh_device,
    concat_mesh_to_tensor_composer,
    distribute_tensor,
    get_device_tensors,
    open_mesh_device,
    replicate_tensor_to_mesh_mapper,
    shard_tensor_to_mesh_mapper,
)
from .trace import (  # noqa: F401
    MeshEvent,
    QueueId,
    allocate_tensor_on_device,
    begin_trace_capture,
    copy,
    copy_host_to_device_tensor,
    end_trace_capture,
    event_synchronize,
    execute_trace,
    record_event,
    release_trace,
    wait_for_event,
)


def _wire_ops():
    """Every op runs per chip on a mesh (multi_device.per_chip) and on a command queue (trace.on_queue: hazards
    between the queues, recording into a trace being captured); host transfers are refused inside capture."""
    per_chip, on_queue, transfer = _multi_device.per_chip, _trace.on_queue, _trace.host_transfer
    ops = ("embedding", "add", "layer_norm", "linear", "matmul", "scale_mask_softmax_in_place",
           "interleaved_to_sharded", "sharded_to_interleaved", "reshape", "to_layout")
    ns = globals()
    for name in ops:
        ns[name] = on_queue(per_chip(ns[name]), f"ttnn.{name}")
    ns["deallocate"] = per_chip(ns["deallocate"])
    ns["to_device"] = transfer(per_chip(ns["to_device"]), "ttnn.to_device", device_arg=1, device_kw="device")
    ns["from_device"] = transfer(per_chip(ns["from_device"]), "ttnn.from_device")
    ns["from_torch"] = transfer(ns["from_torch"], "ttnn.from_torch", device_kw="device")
    ns["to_torch"] = transfer(ns["to_torch"], "ttnn.to_torch")
    ns["synchronize_device"] = _trace.synchronize_device
    for mod in (transformer, experimental):
        for name in ("split_query_key_value_and_split_heads", "nlp_concat_heads", "concatenate_heads"):
            if hasattr(mod, name):
                setattr(mod, name, on_queue(per_chip(getattr(mod, name)), f"ttnn.{mod.__name__.split('.')[-1]}.{name}"))


_wire_ops()

bfloat16 = DataType.BFLOAT16
float32 = DataType.FLOAT32
uint32 = DataType.UINT32
int32 = DataType.INT32
uint16 = DataType.UINT16
uint8 = DataType.UINT8
bfloat8_b = DataType.BFLOAT8_B
bfloat4_b = DataType.BFLOAT4_B

ROW_MAJOR_LAYOUT = Layout.ROW_MAJOR
TILE_LAYOUT = Layout.TILE

TILE_SIZE = 32

EMULATED = True  # lets a program (or test) tell the emulator from the real package
__version__ = "0.81.1+emulator"
