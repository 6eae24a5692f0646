"""tt-metal's L1 allocator as the chip runs it, shared by the compiler's plan and the emulator.

Facts (tt-metal sources; facts only):
- tt_metal/impl/allocator/l1_banking_allocator.cpp, AllocatorImpl::init_compute_and_storage_l1_bank_manager: every
  compute core is one L1 bank and all banks share one address range (lockstep), so a buffer takes the same
  addresses on every core. Allocatable L1 = worker_l1_size - l1_unreserved_base - l1_small_size; L1-small sits
  at the top; buffers are placed top down ("Assuming top down allocation for L1 buffers").
- tt_metal/impl/allocator/algorithms/free_list_opt.{hpp,cpp}, FreeListOpt (default SearchPolicy::BEST): free
  blocks are kept in size classes of log2(size / 1024) (at least 2 classes, capped at 128 MiB); a request scans
  its own class, newest block first when allocating top down, and takes the first block that fits, else the
  next class up; top down it takes the block's highest addresses and leaves the rest below as a free block.
  Sizes round up to the alignment (the L1 alignment, 16 B). Freeing merges with free neighbours; the allocator
  tracks the lowest occupied address.
- tt_metal/impl/program/program.cpp: a program's circular buffers are laid out upward from the L1 base
  (l1_unreserved_base), and the program is refused when that region passes the lowest occupied L1 address
  ("Statically allocated circular buffers ... clash with L1 buffers") or the end of L1.
- L1 base: tt_metal/llrt/hal/tt-1xx/<arch>/*_hal_tensix.cpp, create_tensix_mem_map: DEFAULT_UNRESERVED =
  align(MEM_MAP_END + 69 KiB of kernel config, max(DRAM, L1 alignment)); the device files carry the figure.
"""
from __future__ import annotations

from dataclasses import dataclass

SIZE_CLASS_BASE = 1024          # FreeListOpt::size_segregated_base
MAX_CLASS_BYTES = 128 * 1024 * 1024
# (L1 alignment, DRAM alignment) in bytes: hw/inc/internal/tt-1xx/<arch>/noc/noc_parameters.h (ttnn 0.81.1 wheel),
# max of the NoC read/write alignments; Grayskull's (v0.55 tree) match Wormhole's.
ALIGNMENT = {"grayskull": (16, 32), "wormhole_b0": (16, 32), "blackhole": (16, 64)}


def align(n: int, a: int) -> int:
    return -(-n // a) * a


def _bits(n: int) -> int:
    return n.bit_length()


class L1OutOfMemory(Exception):
    def __init__(self, size: int, stats: dict):
        self.size, self.stats = size, stats
        super().__init__(f"no free L1 block of {size} B (free {stats['free']} B, largest free block "
                         f"{stats['largest_free']} B)")


@dataclass
class Block:
    addr: int                   # relative to the allocator's offset (the L1 base)
    size: int
    free: bool = True
    name: str = ""


class L1Allocator:
    """One lockstep L1 bank range: [base, l1_bytes - l1_small_size)."""

    def __init__(self, *, l1_bytes: int, base: int, alignment: int = 16, l1_small_size: int = 0):
        self.l1_bytes, self.base, self.alignment = l1_bytes, base, alignment
        self.size = l1_bytes - base - l1_small_size
        if self.size <= 0:
            raise ValueError(f"L1 base {base} + L1-small {l1_small_size} leave nothing of {l1_bytes} B")
        self.n_classes = max(2, min(_bits(self.size // SIZE_CLASS_BASE), _bits(MAX_CLASS_BYTES // SIZE_CLASS_BASE)))
        self.blocks: list[Block] = [Block(0, self.size)]            # address order
        self.classes: list[list[Block]] = [[] for _ in range(self.n_classes)]
        self.classes[self._class(self.size)].append(self.blocks[0])
        self.allocated: dict[int, Block] = {}                       # relative address -> block

    def _class(self, size: int) -> int:
        return min(self.n_classes - 1, max(0, _bits(size // SIZE_CLASS_BASE) - 1))

    def _insert(self, b: Block) -> None:
        self.classes[self._class(b.size)].append(b)

    def _remove(self, b: Block) -> None:
        self.classes[self._class(b.size)].remove(b)

    def allocate(self, size: int, name: str = "", *, bottom_up: bool = False) -> int:
        """Absolute address of a new buffer of `size` bytes per bank."""
        want = align(max(size, self.alignment), self.alignment)
        target = None
        for cls in self.classes[self._class(want):]:
            order = cls if bottom_up else reversed(cls)
            target = next((b for b in order if b.size >= want), None)
            if target is not None:
                break
        if target is None:
            raise L1OutOfMemory(want, self.stats())
        self._remove(target)
        i = self.blocks.index(target)
        offset = 0 if bottom_up else target.size - want
        if offset:                                   # free space left below
            below = Block(target.addr, offset)
            target.addr += offset
            target.size -= offset
            self.blocks.insert(i, below)
            self._insert(below)
            i += 1
        if target.size > want:                       # free space left above (bottom-up only)
            above = Block(target.addr + want, target.size - want)
            target.size = want
            self.blocks.insert(i + 1, above)
            self._insert(above)
        target.free, target.name = False, name
        self.allocated[target.addr] = target
        return self.base + target.addr

    def free(self, address: int) -> None:
        b = self.allocated.pop(address - self.base, None)
        if b is None:
            return                                   # as FreeListOpt: freeing an unknown address does nothing
        b.free, b.name = True, ""
        i = self.blocks.index(b)
        if i > 0 and self.blocks[i - 1].free:
            prev = self.blocks[i - 1]
            self._remove(prev)
            prev.size += b.size
            del self.blocks[i]
            b, i = prev, i - 1
        if i + 1 < len(self.blocks) and self.blocks[i + 1].free:
            nxt = self.blocks[i + 1]
            self._remove(nxt)
            b.size += nxt.size
            del self.blocks[i + 1]
        self._insert(b)

    @property
    def lowest_occupied(self) -> int | None:
        """Absolute lowest address of any buffer (None when L1 holds none)."""
        used = [b.addr for b in self.blocks if not b.free]
        return self.base + min(used) if used else None

    def stats(self) -> dict:
        free = [b.size for b in self.blocks if b.free]
        return {"allocatable": self.size, "allocated": self.size - sum(free), "free": sum(free),
                "largest_free": max(free, default=0), "free_blocks": len(free)}

    def layout(self) -> list[tuple[int, int, str | None]]:
        """(absolute address, size, buffer name or None when free), by address."""
        return [(self.base + b.addr, b.size, None if b.free else b.name) for b in self.blocks]


@dataclass(frozen=True)
class CBRegion:
    """Where one program's circular buffers land: [base, end)."""
    base: int
    end: int
    lowest_buffer: int | None       # lowest occupied L1 address while the program runs
    l1_bytes: int

    @property
    def limit(self) -> int:
        return self.l1_bytes if self.lowest_buffer is None else self.lowest_buffer

    @property
    def headroom(self) -> int:
        """Free L1 between the top of the CB region and the lowest buffer (negative: they clash)."""
        return self.limit - self.end

    @property
    def clash(self) -> bool:
        return self.end > self.limit


def cb_region(cb_sizes: list[int], *, base: int, lowest_buffer: int | None, l1_bytes: int,
              dram_alignment: int) -> CBRegion:
    """CBs laid out upward from the L1 base, each start aligned to the DRAM alignment (program.cpp)."""
    end = base
    for size in cb_sizes:
        if size:
            end = align(end, dram_alignment) + size
    return CBRegion(base, end, lowest_buffer, l1_bytes)
