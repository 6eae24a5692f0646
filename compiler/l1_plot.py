"""`python -m compiler explain BUILD --plot OUT.png`: per-op L1 of one core as the allocator plans it, drawn with
matplotlib (for people without ttnn-visualizer).

One bar per op (the ops outside the encoder and encoder layer 0; every layer is the same), bottom to top: the
reserved region below the allocator's base, the op's circular buffers, free L1 up to the lowest buffer (the
headroom), then the buffer region: live buffers, and the holes between them (fragmentation).
"""
from __future__ import annotations

from pathlib import Path

from .errors import UserError


def plot_l1(manifest: dict, out: str | Path) -> Path:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError("--plot needs matplotlib: pip install -e '.[plot]'") from None
    spec = manifest.get("device_spec") or {}
    ops = [op for op in manifest["ops"] if op.get("layer") in (None, 0) and op.get("l1")]
    if not ops or "l1_unreserved_base" not in spec:
        raise UserError("this manifest has no L1 plan (built before the allocator model); rebuild with python -m compiler build")
    l1, base = spec["l1_bytes_per_core"], spec["l1_unreserved_base"]
    kib = 1024
    names, cbs, free, live, holes = [], [], [], [], []
    for op in ops:
        p = op["l1"]
        lowest = p["lowest_buffer_address"] if p["lowest_buffer_address"] is not None else l1
        cb = p["cb_bytes_per_core"] or 0
        names.append(op["name"])
        cbs.append(cb / kib)
        free.append(max(lowest - base - cb, 0) / kib)
        live.append(p["live_buffer_bytes_per_core"] / kib)
        holes.append(max(l1 - lowest - p["live_buffer_bytes_per_core"], 0) / kib)
    x = range(len(ops))
    fig, ax = plt.subplots(figsize=(max(8, 0.45 * len(ops)), 5.5))
    bottom = [base / kib] * len(ops)
    ax.bar(x, bottom, color="#9e9e9e", label=f"reserved below the allocator base ({base} B)")
    for values, color, label in ((cbs, "#ef6c00", "circular buffers"), (free, "#ffffff", "free (headroom)"),
                                 (holes, "#90caf9", "holes between buffers"), (live, "#1565c0", "live buffers")):
        ax.bar(x, values, bottom=bottom, color=color, edgecolor="#bdbdbd" if color == "#ffffff" else color,
               linewidth=0.5, label=label)
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.axhline(l1 / kib, color="black", linewidth=0.8)
    ax.set_xticks(list(x), names, rotation=70, ha="right", fontsize=7)
    ax.set_ylabel("L1 per core (KiB)")
    ax.set_ylim(0, l1 / kib * 1.02)
    m = manifest
    ax.set_title(f"{m['model']['name']} on {m['device']} batch {m['batch']}: L1 of one core per op "
                 f"(layer 0 of {m['model']['num_layers']})", fontsize=9, pad=30)
    ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=5, frameon=False)
    fig.tight_layout()
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=110)
    except (OSError, ValueError) as e:     # unwritable path, or a suffix matplotlib has no writer for
        raise UserError(f"cannot write the plot to {out}: {getattr(e, 'strerror', None) or e}; pass --plot FILE.png") from None
    finally:
        plt.close(fig)
    return out
