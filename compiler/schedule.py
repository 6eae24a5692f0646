"""Device descriptions and schedule files: strict YAML data, validated on load.

Unknown keys are rejected with a did-you-mean, missing keys are named, values are type-checked.
Code branches on these capabilities (grid, L1 bytes, dispatch), never on device names.
"""
from __future__ import annotations

import difflib
import hashlib
import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from kernels.compute import COMPUTE_DEFAULTS

from .errors import NotARegularFile, ScheduleError, read_regular, short

SCHEDULE_ROOT = Path(__file__).resolve().parent.parent / "schedules"
DEVICE_DIR = SCHEDULE_ROOT / "devices"
BERT_DIR = SCHEDULE_ROOT / "bert"
PRECISION_DIR = SCHEDULE_ROOT / "precision"

DTYPES = ("bfloat16", "bfloat8_b", "bfloat4_b", "float32")
ORIENTATIONS = ("ROW_MAJOR", "COL_MAJOR")
PLACEMENTS = ("DRAM", "L1_INTERLEAVED", "BLOCK_SHARDED", "HEIGHT_SHARDED")
MATH_FIDELITIES = ("LoFi", "HiFi2", "HiFi3", "HiFi4")
OP_ROLES = ("qkv", "split_heads", "attention_scores", "attention_probs", "attention_context", "concat_heads",
            "self_out", "attention_layernorm", "ff1", "ff2", "output_layernorm", "qa")
OVERRIDE_FIELDS = ("in0_block_w", "out_subblock_h", "out_subblock_w", "subblock_w", "dtype")
# Every key any device or schedule file may hold: a missing key is only blamed on a typo among the others.
_ALL_KEYS = set(OVERRIDE_FIELDS) | set(OP_ROLES) | {
    "name", "arch", "compute_grid", "x", "y", "l1_bytes_per_core", "l1_unreserved_base", "dram", "channels", "bytes_per_channel",
    "bandwidth_gb_s", "tile", "preferred_shard_orientation", "dispatch", "select_env", "ttnn_api", "clock_ghz",
    "batch", "min", "max", "model", "device", "seq_len", "activation_grid", "hidden_axis", "hidden_cores",
    "shard_orientation", "dtypes", "activations", "weights", "layernorm_params", "embedding_tables",
    "embeddings_output", "attention_mask", "qa_output", "placement", "embeddings", "hidden", "attention",
    "qa_head", "math_fidelity", "overrides", "open_device", "dispatch_core_type", "l1_small_size", "trace_region_size",
    "num_command_queues", "enable_program_cache", "compute", "matmul", "attention_matmul", "softmax", "layernorm", "math_approx_mode",
    "fp32_dest_acc_en", "packer_l1_acc", "gelu", "layernorm_reduction", "legacy_reduction", "use_welford",
    "by_arch", "grayskull", "wormhole_b0", "blackhole"}
# Device hardware rates read by the cost model (compiler/cost_model.py); optional in a device file.
RATE_KEYS = ("matmul_tile_cycles", "noc_bytes_per_cycle", "op_dispatch_us")
# Op families that take a compute_kernel_config, and the settings each one gets.
# attention_matmul: the batched Q.K^T and probs.V matmuls; unset fields follow `matmul`.
COMPUTE_FAMILIES = ("matmul", "attention_matmul", "softmax", "layernorm")
COMPUTE_FIELDS = ("math_fidelity", "math_approx_mode", "fp32_dest_acc_en", "packer_l1_acc")
# fused_activation=(GELU, fast_and_approximate_mode): the reference runs the fast approximation; HF BERT uses erf.
GELU_MODES = ("fast_approximate", "erf")
ARCHES = ("grayskull", "wormhole_b0", "blackhole")
DISPATCH_CORE_TYPES = ("WORKER", "ETH")
TTNN_APIS = ("0.81", "v0.55")
_ALL_KEYS |= {"rates", *RATE_KEYS, *MATH_FIDELITIES}


def _load_yaml(path: Path, what: str) -> dict:
    class _UniqueKeyLoader(yaml.SafeLoader):
        pass

    def _no_duplicates(loader, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool, type(None))):
                raise ScheduleError(f"{path}: line {key_node.start_mark.line + 1}: a key must be a plain name, "
                                    f"got {type(key).__name__}; write 'name: value'")
            if key in seen:
                raise ScheduleError(f"{path}: line {key_node.start_mark.line + 1}: duplicate key '{_key_text(key)}'; keep only one")
            seen.add(key)
        return loader.construct_mapping(node, deep)

    def _bounded(loader):
        node = yaml.SafeLoader.get_single_node(loader)
        if node is not None:
            _check_expansion(path, node, what)
        return node

    _UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)
    _UniqueKeyLoader.get_single_node = _bounded
    try:
        text = read_regular(path).decode("utf-8")
    except FileNotFoundError:
        raise ScheduleError(f"{what} file {path} does not exist") from None
    except NotARegularFile as e:
        raise ScheduleError(f"{what} file {path}: {e.strerror}; pass a YAML file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ScheduleError(f"cannot read {what} file {path}: {e}; it must be a UTF-8 YAML file") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.reader.ReaderError as e:   # a control character: no mark, only a character offset
        line = text.count("\n", 0, max(e.position, 0)) + 1
        char = f"#x{e.character:04x}" if isinstance(e.character, int) else repr(e.character)
        raise ScheduleError(f"{path}: invalid YAML at line {line}: character {char} is not allowed "
                            f"in a YAML file; remove it") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "somewhere"
        problem = " ".join(str(getattr(e, "problem", None) or e).split())
        raise ScheduleError(f"{path}: invalid YAML at {where}: {problem}") from None
    except RecursionError:
        raise ScheduleError(f"{path}: YAML nested too deeply; a {what} file is a flat mapping of a few levels") from None
    except ValueError as e:   # a value PyYAML parses but Python refuses: an integer of 5000 digits, month 13
        problem = "an integer has more than 4300 digits" if "integer string conversion" in str(e) else str(e)
        raise ScheduleError(f"{path}: a YAML value is unusable ({' '.join(problem.split())[:120]}); "
                            f"give a real value") from None
    if not isinstance(data, dict):
        raise ScheduleError(f"{path}: a {what} file must be a YAML mapping of keys, got {type(data).__name__}")
    return data


# Values one device or schedule file may expand to, aliases counted at each use (shipped files: a few hundred).
MAX_YAML_VALUES = 20_000


def _check_expansion(path: Path, root, what: str) -> None:
    """Refuse a document whose aliases expand past MAX_YAML_VALUES ("billion laughs") or refer to themselves,
    before anything walks the expanded value. Sizes are memoised per node, so the count itself is cheap."""
    sizes: dict[int, int | None] = {}

    def size(node) -> int:
        key = id(node)
        if key in sizes:
            if sizes[key] is None:
                raise ScheduleError(f"{path}: line {node.start_mark.line + 1}: a YAML alias refers to the value that "
                                    f"holds it; write the value out")
            return sizes[key]
        sizes[key] = None
        if isinstance(node, yaml.MappingNode):
            n = 1 + sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            n = 1 + sum(size(v) for v in node.value)
        else:
            n = 1
        if n > MAX_YAML_VALUES:
            raise ScheduleError(f"{path}: line {node.start_mark.line + 1}: this YAML holds more than {MAX_YAML_VALUES} "
                                f"values, aliases counted at each use (an alias bomb?); a {what} file is a few hundred "
                                f"values: write them out")
        sizes[key] = n
        return n

    size(root)


def _key_text(key) -> str:
    """A mapping key as it appears in a message, at most 60 characters."""
    text = key if isinstance(key, str) else short(key)
    return text if len(text) <= 60 else text[:57] + "..."


class _Reader:
    """Reads one mapping strictly: every key must be known, every required key present, types checked."""

    def __init__(self, path: Path, data: dict, where: str = ""):
        self.path, self.data, self.where, self.used = path, data, where, set()

    def _name(self, key) -> str:
        key = _key_text(key)
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str, kind, default=..., choices=None):
        self.used.add(key)
        if key not in self.data:
            unknown = [k for k in self.data if isinstance(k, str) and k not in _ALL_KEYS]
            typo = difflib.get_close_matches(key, unknown, n=1)
            if typo:
                raise ScheduleError(f"{self.path}: unknown key '{self._name(typo[0])}' (did you mean '{key}'?)")
            if default is ...:
                raise ScheduleError(f"{self.path}: missing key '{self._name(key)}'")
            return default
        value = self.data[key]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ScheduleError(f"{self.path}: '{self._name(key)}' must be an integer, got {short(value)}")
        if kind is int and abs(value) >= 1 << 62:
            raise ScheduleError(f"{self.path}: '{self._name(key)}' is {short(value)}, too large for any device; give a real value")
        if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ScheduleError(f"{self.path}: '{self._name(key)}' must be a number, got {short(value)}")
        if kind is float and not (abs(value) < 1e300 if isinstance(value, int) else math.isfinite(value)):
            raise ScheduleError(f"{self.path}: '{self._name(key)}' must be a finite number, got {short(value)}")
        if kind in (str, dict, list, bool) and not isinstance(value, kind):
            raise ScheduleError(f"{self.path}: '{self._name(key)}' must be a {kind.__name__}, got {short(value)}")
        if choices is not None and value not in choices:
            raise ScheduleError(f"{self.path}: '{self._name(key)}' is {short(value)}; expected one of {', '.join(map(str, choices))}")
        return value

    def positive(self, key: str, default=...):
        value = self.get(key, int, default)
        if value is not None and value <= 0:
            raise ScheduleError(f"{self.path}: '{self._name(key)}' must be positive, got {value}")
        return value

    def positive_number(self, key: str, unit: str) -> float:
        """A rate the cost model divides by: a finite number above zero."""
        value = float(self.get(key, float))
        if value <= 0:
            raise ScheduleError(f"{self.path}: '{self._name(key)}' must be above zero ({unit}), got {short(value)}; "
                                f"give the device's real rate")
        return value

    def sub(self, key: str, default=...) -> "_Reader":
        value = self.get(key, dict, default)
        return _Reader(self.path, value if value is not None else {}, self._name(key))

    def finish(self) -> None:
        unknown = [k for k in self.data if k not in self.used]
        if unknown:
            key = unknown[0]
            hint = difflib.get_close_matches(_key_text(key), sorted(self.used), n=1)
            did = f" (did you mean '{hint[0]}'?)" if hint else f" (known keys: {', '.join(sorted(self.used))})"
            raise ScheduleError(f"{self.path}: unknown key '{self._name(key)}'{did}")


@dataclass(frozen=True)
class Device:
    name: str
    arch: str
    grid_x: int
    grid_y: int
    l1_bytes_per_core: int
    dram_channels: int
    dram_bytes_per_channel: int
    dram_bandwidth_gb_s: float
    tile: tuple[int, int]
    preferred_shard_orientation: str
    dispatch: str
    select_env: dict
    ttnn_api: str
    clock_ghz: float
    batch_min: int
    batch_max: int | None       # None: derived from the schedule (largest legal batch that fits L1)
    path: Path
    sha256: str
    # Hardware rates for the cost model: {"matmul_tile_cycles": {fidelity: cycles}, "noc_bytes_per_cycle": int,
    # "op_dispatch_us": float}; None when the device file has no `rates` (then nothing is predicted).
    rates: dict | None = None
    # How the chip is opened (ttnn.open_device keywords): dispatch_core_type, l1_small_size, trace_region_size,
    # num_command_queues, enable_program_cache.
    open_device: dict = field(default_factory=lambda: dict(_OPEN_DEVICE_DEFAULTS))
    # Where the L1 allocator's range starts (below: firmware, mailboxes, kernel config); buffers and circular
    # buffers share [l1_unreserved_base, l1_bytes_per_core - open_device.l1_small_size).
    l1_unreserved_base: int = 0

    @property
    def cores(self) -> int:
        return self.grid_x * self.grid_y

    @property
    def l1_usable_bytes(self) -> int:
        """L1 per core that buffers and circular buffers can use."""
        return self.l1_bytes_per_core - self.l1_unreserved_base - self.open_device.get("l1_small_size", 0)

    @property
    def batch_derived(self) -> bool:
        return self.batch_max is None


@dataclass(frozen=True)
class Schedule:
    device: str
    seq_len: int
    hidden_axis: str
    hidden_cores: int | str
    shard_orientation: str
    dtypes: dict
    placement: dict
    overrides: dict = field(default_factory=dict)
    path: Path | None = None
    sha256: str = ""
    compute: dict = field(default_factory=lambda: {f: {} for f in COMPUTE_FAMILIES})   # only what the file sets
    gelu: str = "fast_approximate"
    layernorm_reduction: dict = field(default_factory=lambda: dict(_LAYERNORM_REDUCTION_DEFAULTS))
    precision: str = "reference"          # a profile from schedules/precision/ laid over the file, or as written
    precision_sha256: str = ""

    @property
    def math_fidelity(self) -> str:
        """The matmuls' math fidelity (what the cost model prices)."""
        return self.compute["matmul"].get("math_fidelity", COMPUTE_DEFAULTS["matmul"]["math_fidelity"])


_OPEN_DEVICE_DEFAULTS = {"dispatch_core_type": "WORKER", "l1_small_size": 0, "trace_region_size": 0,
                         "num_command_queues": 1, "enable_program_cache": False}
# LayerNormShardedMultiCoreProgramConfig fields new in ttnn 0.81 (defaults there: all False). The reference era
# reduced with the legacy kernel; Tenstorrent's BGE-large (a BERT-large) sets legacy_reduction=True too.
_LAYERNORM_REDUCTION_DEFAULTS = {"legacy_reduction": True, "use_welford": False}


def _read_open_device(r: "_Reader", dispatch: str, ttnn_api: str, select_env: dict) -> dict:
    o = r.sub("open_device", None)
    out = {"dispatch_core_type": o.get("dispatch_core_type", str, "WORKER", choices=DISPATCH_CORE_TYPES),
           "l1_small_size": o.get("l1_small_size", int, 0), "trace_region_size": o.get("trace_region_size", int, 0),
           "num_command_queues": o.positive("num_command_queues", 1),
           # tt-metal v0.55 compiled every op again unless asked to cache; ttnn 0.81 caches by default
           "enable_program_cache": o.get("enable_program_cache", bool, ttnn_api == "v0.55")}
    o.finish()
    for key in ("l1_small_size", "trace_region_size"):
        if out[key] < 0:
            raise ScheduleError(f"{r.path}: 'open_device.{key}' must not be negative, got {out[key]}")
    if out["num_command_queues"] != 1:   # a second queue only pays with a trace runner, which programs lack yet
        raise ScheduleError(f"{r.path}: 'open_device.num_command_queues' is {out['num_command_queues']}; emitted "
                            f"programs run on one command queue: set 1")
    if (dispatch == "ethernet") != (out["dispatch_core_type"] == "ETH"):
        raise ScheduleError(f"{r.path}: 'dispatch: {dispatch}' needs 'open_device.dispatch_core_type: "
                            f"{'ETH' if dispatch == 'ethernet' else 'WORKER'}' (the grid depends on where dispatch runs)")
    if select_env and ttnn_api != "v0.55":
        raise ScheduleError(f"{r.path}: 'select_env' is only real at ttnn API v0.55 (WH_ARCH_YAML); at {ttnn_api} say "
                            f"how the device is opened under 'open_device' (e.g. dispatch_core_type: ETH)")
    return out


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _check_select_env(path: Path, env: dict) -> None:
    """select_env names environment variables and the exact text each must hold (the runtime compares strings)."""
    for key, value in env.items():
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            raise ScheduleError(f"{path}: 'select_env' key {short(key)} is not an environment variable name; "
                                f"use letters, digits and _ (e.g. WH_ARCH_YAML)")
        if not isinstance(value, str) or "\0" in value:
            raise ScheduleError(f"{path}: 'select_env.{key}' is {short(value)}; give the variable's value as a quoted "
                                f"string, e.g. {key}: \"wormhole_b0_80_arch_eth_dispatch.yaml\"")


def _read_compute(r: "_Reader", path: Path) -> dict:
    c = r.sub("compute", None)
    out = {}
    for family in COMPUTE_FAMILIES:
        f = c.sub(family, None)
        values = {"math_fidelity": f.get("math_fidelity", str, None, choices=MATH_FIDELITIES),
                  **{k: f.get(k, bool, None) for k in COMPUTE_FIELDS[1:]}}
        out[family] = {k: v for k, v in values.items() if v is not None}
        f.finish()
    c.finish()
    return out


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_rates(r: "_Reader") -> dict | None:
    if r.get("rates", dict, None) is None:
        return None
    rates = r.sub("rates")
    tiles = rates.sub("matmul_tile_cycles")
    out = {"matmul_tile_cycles": {f: tiles.positive(f) for f in MATH_FIDELITIES},
           "noc_bytes_per_cycle": rates.positive("noc_bytes_per_cycle"),
           "op_dispatch_us": float(rates.get("op_dispatch_us", float))}
    if out["op_dispatch_us"] < 0:
        raise ScheduleError(f"{r.path}: 'rates.op_dispatch_us' must not be negative, got {out['op_dispatch_us']}")
    tiles.finish()
    rates.finish()
    return out


def load_device(path: Path) -> Device:
    r = _Reader(path, _load_yaml(path, "device"))
    grid, dram = r.sub("compute_grid"), r.sub("dram")
    batch = r.sub("batch", None)   # optional: without batch.max the range is derived (compiler/check_schedule.py)
    tile = r.get("tile", list, [32, 32])
    if tile != [32, 32]:
        raise ScheduleError(f"{path}: 'tile' must be [32, 32] (TT-NN tiles are 32x32), got {short(tile)}")
    dev = Device(
        name=r.get("name", str), arch=r.get("arch", str, choices=ARCHES),
        grid_x=grid.positive("x"), grid_y=grid.positive("y"), l1_bytes_per_core=r.positive("l1_bytes_per_core"),
        dram_channels=dram.positive("channels"), dram_bytes_per_channel=dram.positive("bytes_per_channel"),
        dram_bandwidth_gb_s=dram.positive_number("bandwidth_gb_s", "GB/s"), tile=(32, 32),
        preferred_shard_orientation=r.get("preferred_shard_orientation", str, choices=ORIENTATIONS),
        dispatch=r.get("dispatch", str, choices=("tensix", "ethernet")), select_env=r.get("select_env", dict, {}) or {},
        ttnn_api=str(r.get("ttnn_api", str)), clock_ghz=r.positive_number("clock_ghz", "GHz"),
        batch_min=batch.positive("min", 1), batch_max=batch.positive("max", None),
        path=path, sha256=_sha(path), rates=_read_rates(r), l1_unreserved_base=r.positive("l1_unreserved_base"))
    if dev.ttnn_api not in TTNN_APIS:
        raise ScheduleError(f"{path}: 'ttnn_api' is {short(dev.ttnn_api)}; expected one of {', '.join(TTNN_APIS)}")
    if dev.arch == "grayskull" and dev.ttnn_api != "v0.55":
        raise ScheduleError(f"{path}: Grayskull runs only the TT-NN API of tt-metal v0.55 (its support ended there); "
                            f"set ttnn_api: \"v0.55\"")
    _check_select_env(path, dev.select_env)
    dev = replace(dev, open_device=_read_open_device(r, dev.dispatch, dev.ttnn_api, dev.select_env))
    if dev.l1_usable_bytes <= 0:
        raise ScheduleError(f"{path}: 'l1_unreserved_base' {dev.l1_unreserved_base} (+ open_device.l1_small_size) leaves "
                            f"no L1 of the {dev.l1_bytes_per_core} B per core")
    for sub in (grid, dram, batch):
        sub.finish()
    r.finish()
    if dev.grid_x > 64 or dev.grid_y > 64:
        raise ScheduleError(f"{path}: compute_grid {dev.grid_x}x{dev.grid_y} is larger than any Tenstorrent chip (max 64 per axis)")
    if dev.batch_max is not None and dev.batch_max < dev.batch_min:
        raise ScheduleError(f"{path}: batch.max {dev.batch_max} is below batch.min {dev.batch_min}")
    return dev


_DTYPE_KEYS = ("activations", "weights", "layernorm_params", "embedding_tables", "embeddings_output", "attention_mask", "qa_output")
_PLACEMENT_KEYS = ("weights", "embeddings", "hidden", "attention", "attention_mask", "qa_head")
# What lowering implements for each placement key (compiler/lower.py): anything else is refused on load.
_INTERLEAVED = ("DRAM", "L1_INTERLEAVED")
_PLACEMENT_CHOICES = {"weights": _INTERLEAVED, "embeddings": _INTERLEAVED, "hidden": ("BLOCK_SHARDED",),
                      "attention": ("HEIGHT_SHARDED",), "attention_mask": _INTERLEAVED, "qa_head": _INTERLEAVED}


def _read_layernorm_reduction(r: "_Reader") -> dict:
    ln = r.sub("layernorm_reduction", None)
    out = {k: ln.get(k, bool, v) for k, v in _LAYERNORM_REDUCTION_DEFAULTS.items()}
    ln.finish()
    if out["legacy_reduction"] and out["use_welford"]:
        raise ScheduleError(f"{r.path}: 'layernorm_reduction' sets both legacy_reduction and use_welford; ttnn's "
                            f"sharded layernorm uses one reduction: pick one")
    return out


def load_schedule(path: Path) -> Schedule:
    r = _Reader(path, _load_yaml(path, "schedule"))
    if r.get("model", str) != "bert":
        raise ScheduleError(f"{path}: 'model' must be 'bert' (the only model family this compiler schedules)")
    grid, dt, pl = r.sub("activation_grid"), r.sub("dtypes"), r.sub("placement")
    hidden_cores = grid.get("hidden_cores", (int, str))
    if not (hidden_cores == "auto" or (isinstance(hidden_cores, int) and not isinstance(hidden_cores, bool) and hidden_cores > 0)):
        raise ScheduleError(f"{path}: 'activation_grid.hidden_cores' must be a positive integer or 'auto', got {short(hidden_cores)}")
    overrides = r.get("overrides", dict, {}) or {}
    for role, fields in overrides.items():
        if role not in OP_ROLES:
            hint = difflib.get_close_matches(_key_text(role), OP_ROLES, n=1)
            raise ScheduleError(f"{path}: unknown op 'overrides.{_key_text(role)}'" + (f" (did you mean '{hint[0]}'?)" if hint else f" (ops: {', '.join(OP_ROLES)})"))
        if not isinstance(fields, dict):
            raise ScheduleError(f"{path}: 'overrides.{_key_text(role)}' must be a mapping of program-config fields")
        sub = _Reader(path, fields, f"overrides.{_key_text(role)}")
        for key in OVERRIDE_FIELDS:
            if key == "dtype":
                sub.get(key, str, None, choices=DTYPES)
            else:
                sub.positive(key, None)
        sub.finish()
    sched = Schedule(
        device=r.get("device", str), seq_len=r.positive("seq_len"),
        hidden_axis=grid.get("hidden_axis", str, choices=("x", "y")), hidden_cores=hidden_cores,
        shard_orientation=grid.get("shard_orientation", str, choices=ORIENTATIONS),
        dtypes={k: dt.get(k, str, choices=DTYPES) for k in _DTYPE_KEYS},
        placement={k: pl.get(k, str, choices=_PLACEMENT_CHOICES[k]) for k in _PLACEMENT_KEYS},
        overrides=overrides, path=path, sha256=_sha(path), compute=_read_compute(r, path),
        gelu=r.get("gelu", str, "fast_approximate", choices=GELU_MODES),
        layernorm_reduction=_read_layernorm_reduction(r))
    for sub in (grid, dt, pl):
        sub.finish()
    r.finish()
    if sched.seq_len % 32:
        raise ScheduleError(f"{path}: 'seq_len' {sched.seq_len} is not a multiple of 32 (tile height); use e.g. 384")
    return sched


def precision_profiles() -> tuple[str, ...]:
    """`reference` (the schedule as written) and every profile file in schedules/precision/."""
    return ("reference",) + tuple(sorted(p.stem for p in PRECISION_DIR.glob("*.yaml")))


def with_precision(schedule: Schedule, name: str, arch: str) -> Schedule:
    """The schedule with a precision profile's compute fields and GELU laid over it, then the profile's
    `by_arch` section for this architecture (reference: the schedule unchanged)."""
    if name == "reference":
        return schedule
    path = PRECISION_DIR / f"{name}.yaml"
    if name not in precision_profiles():
        raise ScheduleError(f"unknown precision profile '{name}'; pick one of {', '.join(precision_profiles())}")
    r = _Reader(path, _load_yaml(path, "precision profile"))
    by_arch = r.sub("by_arch", None)
    compute, gelu = {family: dict(schedule.compute.get(family, {})) for family in COMPUTE_FAMILIES}, schedule.gelu
    for layer_arch, layer in [(arch, r)] + [(a, by_arch.sub(a, None)) for a in ARCHES]:
        fields, layer_gelu = _read_compute(layer, path), layer.get("gelu", str, None, choices=GELU_MODES)
        layer.finish()   # every section is checked, only this architecture's applies
        if layer_arch == arch:
            for family, values in fields.items():
                compute[family].update(values)
            gelu = layer_gelu or gelu
    by_arch.finish()   # an architecture this compiler does not know is a typo
    return replace(schedule, compute=compute, gelu=gelu, precision=name, precision_sha256=_sha(path))


def check_seq_len(schedule: Schedule, config, from_flag: bool = False) -> None:
    """The sequence length (the schedule's, or --seq-len's) must fit the model's position table (RoBERTa's
    first padding_idx + 1 rows are never used)."""
    limit = getattr(config, "max_position_embeddings", None)
    if not isinstance(limit, int):
        return
    if getattr(config, "model_type", "bert") != "bert" and isinstance(getattr(config, "pad_token_id", None), int):
        limit -= config.pad_token_id + 1
        what = f"max_position_embeddings {config.max_position_embeddings} minus padding_idx + 1"
    else:
        what = f"max_position_embeddings {limit}"
    if schedule.seq_len > limit:
        where = "--seq-len" if from_flag else f"{schedule.path}: 'seq_len'"
        raise ScheduleError(f"{where} {schedule.seq_len} is longer than the model's {what}; use a seq_len <= "
                            f"{limit} (a multiple of 32)")


def _find(name_or_path: str, folder: Path, what: str) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or os.sep in name_or_path:
        return p
    cand = folder / f"{name_or_path}.yaml"
    if cand.is_file():
        return cand
    known = sorted(f.stem for f in folder.glob("*.yaml"))
    hint = difflib.get_close_matches(name_or_path, known, n=1)
    raise ScheduleError(f"unknown {what} '{name_or_path}'" + (f" (did you mean '{hint[0]}'?)" if hint else "")
                        + f"; known: {', '.join(known)}, or pass a path to a .yaml file")


def find_device(name_or_path: str) -> Device:
    return load_device(_find(name_or_path, DEVICE_DIR, "device"))


def find_schedule(name_or_path: str) -> Schedule:
    return load_schedule(_find(name_or_path, BERT_DIR, "schedule"))


def _unique(paths: list[Path]) -> list[Path]:
    seen, out = set(), []
    for p in paths:
        key = os.path.normpath(os.path.abspath(p))
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def schedule_candidates(device: Device) -> list[Path]:
    """Where the default schedule of a device is looked for, first match wins: next to the device file
    (`<name>.schedule.yaml` in its folder, or `../bert/<name>.yaml` as in this repository), then schedules/bert/."""
    here = Path(device.path).parent
    return _unique([here / f"{device.name}.schedule.yaml", here / f"{Path(device.path).stem}.schedule.yaml",
                    here.parent / "bert" / f"{device.name}.yaml", BERT_DIR / f"{device.name}.yaml"])


def device_candidates(schedule: Schedule) -> list[Path]:
    """Where the device a schedule names is looked for: next to the schedule file (`<device>.yaml` in its folder,
    or `../devices/<device>.yaml` as in this repository), then schedules/devices/."""
    here = Path(schedule.path).parent if schedule.path else DEVICE_DIR
    return _unique([here / f"{schedule.device}.yaml", here.parent / "devices" / f"{schedule.device}.yaml",
                    DEVICE_DIR / f"{schedule.device}.yaml"])


def _display(p: Path) -> str:
    try:
        return str(Path(os.path.abspath(p)).relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def default_schedule_for(device: Device) -> Schedule:
    candidates = schedule_candidates(device)
    for path in candidates:
        if path.is_file() and os.path.abspath(path) != os.path.abspath(device.path):
            return load_schedule(path)
    raise ScheduleError(f"no BERT schedule for device '{device.name}' (looked for {', '.join(map(_display, candidates))}); "
                        f"pass --schedule FILE or write one (docs/new-schedule.md)")


def device_for_schedule(schedule: Schedule) -> Device:
    candidates = device_candidates(schedule)
    for path in candidates:
        if path.is_file() and os.path.abspath(path) != os.path.abspath(schedule.path or ""):
            return load_device(path)
    raise ScheduleError(f"{schedule.path}: no device file for device '{schedule.device}' "
                        f"(looked for {', '.join(map(_display, candidates))}); pass --device FILE")
