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
