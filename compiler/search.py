"""`python -m compiler build --search`: try legal alternatives to a schedule and price them with the cost model.

Alternatives, one family at a time from the best so far (coordinate descent):
  1. grid orientation: which grid axis carries the hidden size, the shard orientation, the hidden core count;
  2. dtypes where the schedule allows: activations, weights and the attention scores at the schedule's
     precision or higher (bfloat16); never lower, since nothing here can measure the accuracy lost;
  3. per-op program configs: in0_block_w and the output subblock of every matmul, subblock_w of softmax and
     layernorm; each op role is searched on its own (an op's price depends only on its own config), then the
     best of every role are combined and checked together.
Every candidate is lowered by compiler/lower.py, so legality is decided by the same kernels/ functions as a
build (kernels.common.Violation -> compiler.errors.LegalityError, the per-core L1 budget included). The
sharded-subblock rule of kernels/matmul.py (out_subblock_w == per_core_N or out_subblock_h == 1) is asked before
lowering, to spare a lowering per subblock it refuses. The attention scores' placement is not searched: lowering
always height-shards them (the batched matmul's layout), so every other placement.attention would be refused.
The build itself keeps the schedule's configs (the reference): search only reports, and prints the schedule
keys that would select the best alternative.
"""
from __future__ import annotations

import dataclasses
import textwrap
import time
from dataclasses import dataclass, field

from kernels import attention
from kernels.common import MAX_SUBBLOCK_TILES, TILE, divisors
from kernels.matmul import ATTENTION_ROLES, SHARDED_SUBBLOCK_RULE, attention_kn, sharded_subblock_ok

from .cost_model import Prediction, predict
from .errors import ScheduleError, UserError
from .lower import lower
from .manifest import manifest as make_manifest
from .schedule import ORIENTATIONS, Device, Schedule
from .target import hidden_core_fits

# A candidate must beat the incumbent by more than this to replace it (ties keep the reference).
MIN_GAIN = 0.002


@dataclass
class Candidate:
    stage: str
    label: str
    schedule: Schedule
    us: float | None = None
    samples_per_s: float | None = None
    refused: str = ""
    prediction: Prediction | None = field(default=None, repr=False)
    manifest: dict | None = field(default=None, repr=False)

    @property
    def legal(self) -> bool:
        return self.us is not None


@dataclass
class SearchResult:
    device: Device
    batch: int
    reference: Candidate
    best: Candidate
    tried: list[Candidate]
    stages: list[tuple[str, Candidate | None, int, int, str]]   # stage, best alternative, tried, legal, note
    changes: list[str]
    seconds: float

    def render(self) -> str:
        ref, best = self.reference, self.best
        legal = sum(c.legal for c in self.tried)
        out = [f"search: {self.device.name} batch {self.batch}: {len(self.tried)} alternatives tried in "
               f"{self.seconds:.1f} s, {legal} legal, {len(self.tried) - legal} refused",
               "  speed: the best alternative's predicted sentences/s against the reference's (+ faster, - slower)",
               f"  {'stage':20} {'tried':>5} {'legal':>5}  {'best alternative':58} {'speed':>8}"]
        for stage, alt, n, n_legal, note in self.stages:
            delta = f"{100 * (alt.samples_per_s / ref.samples_per_s - 1):+.1f}%" if alt is not None else ""
            # a long cell wraps onto further lines instead of being cut
            text = textwrap.wrap(alt.label if alt is not None else note, 58) or [""]
            out.append(f"  {stage:20} {n:>5} {n_legal:>5}  {text[0]:58} {delta:>8}".rstrip())
            out += [f"  {'':20} {'':5} {'':5}  {more}" for more in text[1:]]
        out.append(f"  reference       {ref.us / 1e3:7.2f} ms -> {ref.samples_per_s:6.1f} sentences/s  ({_describe(ref)})")
        gain = 100 * (best.samples_per_s / ref.samples_per_s - 1)
        out.append(f"  best predicted  {best.us / 1e3:7.2f} ms -> {best.samples_per_s:6.1f} sentences/s  ({gain:+.1f}%"
                   + ("; the reference configs are the best the cost model finds)" if best is ref else ")"))
        if best is not ref:
            out.append("  best differs from the reference in: " + "; ".join(self.changes))
            out.append("  the build keeps the reference configs; to use the best, put these keys in a copy of "
                       f"{_rel(ref.schedule.path)} and pass it with --schedule:")
            out += ["    " + line for line in schedule_yaml_diff(ref.schedule, best.schedule)]
        reasons: dict[str, int] = {}
        for c in self.tried:
            if not c.legal:
                reasons[c.refused] = reasons.get(c.refused, 0) + 1
        if reasons:
            out.append("  refused by rule: " + "; ".join(f"{r} ({n})" for r, n in sorted(reasons.items(), key=lambda x: -x[1])))
        return "\n".join(out)


def _rel(path) -> str:
    from .emit import _display_path

    return _display_path(path)


def _describe(c: Candidate) -> str:
    s = c.schedule
    grid = c.manifest["grid"] if c.manifest else "?"
    return (f"grid {grid[0]}x{grid[1]}, hidden on {s.hidden_axis} ({s.hidden_cores} cores), {s.shard_orientation}; "
            f"activations {s.dtypes['activations']}, weights {s.dtypes['weights']}")


def schedule_yaml_diff(ref: Schedule, best: Schedule) -> list[str]:
    lines = []
    if (ref.hidden_axis, ref.hidden_cores, ref.shard_orientation) != (best.hidden_axis, best.hidden_cores, best.shard_orientation):
        lines += ["activation_grid:", f"  hidden_axis: {best.hidden_axis}", f"  hidden_cores: {best.hidden_cores}",
                  f"  shard_orientation: {best.shard_orientation}"]
    dt = {k: v for k, v in best.dtypes.items() if ref.dtypes.get(k) != v}
    if dt:
        lines += ["dtypes:"] + [f"  {k}: {v}" for k, v in dt.items()]
    pl = {k: v for k, v in best.placement.items() if ref.placement.get(k) != v}
    if pl:
        lines += ["placement:"] + [f"  {k}: {v}" for k, v in pl.items()]
    ov = {r: f for r, f in best.overrides.items() if ref.overrides.get(r) != f}
    if ov:
        lines += ["overrides:"] + [f"  {r}: {{{', '.join(f'{k}: {v}' for k, v in f.items())}}}" for r, f in ov.items()]
    return lines


class _Searcher:
    def __init__(self, graph, device: Device, batch: int, model_name: str, config_hash: str):
        if not device.rates:
            raise UserError(f"device file {device.path} has no 'rates' section: --search needs the cost model's rates")
        self.graph, self.device, self.batch = graph, device, batch
        self.model_name, self.config_hash = model_name, config_hash
        self.tried: list[Candidate] = []

    def evaluate(self, stage: str, label: str, schedule: Schedule, record: bool = True) -> Candidate:
        c = Candidate(stage, label, schedule)
        try:
            program = lower(self.graph, self.device, schedule, self.batch,
                            model_name=self.model_name, config_hash=self.config_hash)
        except ScheduleError as e:               # LegalityError included: the rule, the numbers, the key
            c.refused = getattr(e, "rule", None) or str(e).split(" (")[0]
        else:
            c.manifest = make_manifest(program, "")
            c.prediction = predict(c.manifest, self.device)
            c.us = c.prediction.device_kernel_us
            c.samples_per_s = c.prediction.samples_per_s
        if record:
            self.tried.append(c)
        return c

    def refuse(self, stage: str, label: str, schedule: Schedule, rule: str) -> Candidate:
        c = Candidate(stage, label, schedule, refused=rule)
        self.tried.append(c)
        return c


def _better(a: Candidate, b: Candidate) -> bool:
    return a.legal and (not b.legal or a.us < b.us * (1 - MIN_GAIN))


def _grid_variants(base: Schedule, device: Device, meta: dict) -> list[tuple[str, Schedule]]:
    heads = meta["num_heads"]
    out = []
    for axis in ("x", "y"):
        along = device.grid_x if axis == "x" else device.grid_y
        # the head split reads exactly 2 heads per core column (kernels/attention.py): one legal count per model
        fits = [g for g in hidden_core_fits(along, meta["hidden_size"], heads) if heads == attention.HEADS_PER_CORE * g]
        for orientation in ORIENTATIONS:
            for cores in sorted(fits, reverse=True):
                s = dataclasses.replace(base, hidden_axis=axis, shard_orientation=orientation, hidden_cores=cores)
                out.append((f"hidden on {axis}, {cores} cores, {orientation}", s))
    return out


def _dtype_variants(base: Schedule) -> list[tuple[str, Schedule]]:
    out = []
    acts = [base.dtypes["activations"]] + (["bfloat16"] if base.dtypes["activations"] != "bfloat16" else [])
    wts = [base.dtypes["weights"]] + (["bfloat16"] if base.dtypes["weights"] != "bfloat16" else [])
    scores = [None, "bfloat16"]
    for a in acts:
        for w in wts:
            for sc in scores:
                if sc is not None and (a == "bfloat16" or base.overrides.get("attention_scores", {}).get("dtype")):
                    continue
                if a == base.dtypes["activations"] and w == base.dtypes["weights"] and sc is None:
                    continue
                overrides = dict(base.overrides)
                if sc:
                    overrides["attention_scores"] = {**overrides.get("attention_scores", {}), "dtype": sc}
                s = dataclasses.replace(base, dtypes={**base.dtypes, "activations": a, "weights": w}, overrides=overrides)
                parts = [f"activations {a}" if a != base.dtypes["activations"] else "",
                         f"weights {w}" if w != base.dtypes["weights"] else "",
                         f"attention scores {sc}" if sc else ""]
                out.append((", ".join(p for p in parts if p), s))
    return out


def _role_variants(base: Schedule, m: dict) -> list[tuple[str, str, dict | None, str]]:
    """(role, label, override fields or None, refusal rule) for every program-config alternative of every role."""
    out = []
    seen_roles = set()
    seq_tiles = m["seq_len"] // TILE
    head_tiles = m["model"]["hidden_size"] // m["model"]["num_heads"] // TILE
    for op in m["ops"]:
        cfg, role = op.get("program_config"), op["role"]
        if not cfg or role in seen_roles:
            continue
        seen_roles.add(role)
        current = dict(base.overrides.get(role, {}))
        if "Matmul" in cfg["type"]:
            if "MultiCast" in cfg["type"]:
                k = op["weights"][0]["shape"][0] // TILE
                kbs = divisors(k // m["hidden_cores"])
                rows = cfg["per_core_M"]
            else:
                k = (attention_kn(role, seq=seq_tiles, head_dim=head_tiles)[0] if role in ATTENTION_ROLES
                     else cfg["in0_block_w"])
                kbs = divisors(k)
                rows = seq_tiles           # a subblock tiles one head's rows
            n = cfg["per_core_N"]
            for kb in kbs:
                for h in divisors(rows):
                    for w in divisors(n):
                        if h * w > MAX_SUBBLOCK_TILES:
                            continue
                        if (kb, h, w) == (cfg["in0_block_w"], cfg["out_subblock_h"], cfg["out_subblock_w"]):
                            continue
                        fields = {**current, "in0_block_w": kb, "out_subblock_h": h, "out_subblock_w": w}
                        label = f"{role}: in0_block_w {kb}, subblock {h}x{w}"
                        rule = "" if sharded_subblock_ok(h, w, n) else SHARDED_SUBBLOCK_RULE
                        out.append((role, label, fields, rule))
        else:                                  # softmax / layernorm
            for sw in divisors(cfg["block_w"]):
                if sw > MAX_SUBBLOCK_TILES or sw == cfg.get("subblock_w"):
                    continue
                out.append((role, f"{role}: subblock_w {sw}", {**current, "subblock_w": sw}, ""))
    return out


def search(*, graph, device: Device, schedule: Schedule, batch: int, model_name: str = "model",
           config_hash: str = "search") -> SearchResult:
    """Search alternatives to `schedule` for `graph` (a traced BERT after compiler.passes) on `device`."""
    t0 = time.perf_counter()
    s = _Searcher(graph, device, batch, model_name, config_hash)
    reference = s.evaluate("reference", "reference", schedule, record=False)
    if not reference.legal:
        raise UserError(f"the schedule itself is not legal for batch {batch}: {reference.refused}")
    best = reference
    stages = []

    def stage(name: str, variants, note_if_none: str = "no legal alternative") -> None:
        nonlocal best
        cands = []
        for label, sched in variants:
            c = s.evaluate(name, label, sched)
            cands.append(c)
        legal = [c for c in cands if c.legal]
        top = min(legal, key=lambda c: c.us) if legal else None
        stages.append((name, top, len(cands), len(legal), note_if_none))
        if top is not None and _better(top, best):
            best = top

    # 1. grid orientation and hidden core count (the schedule's own setting is the reference)
    grid_variants = [(l, v) for l, v in _grid_variants(best.schedule, device, graph.meta)
                     if (v.hidden_axis, v.shard_orientation) != (schedule.hidden_axis, schedule.shard_orientation)
                     or v.hidden_cores != reference.manifest["hidden_cores"]]
    stage("grid orientation", grid_variants)
    # 2. dtypes at the schedule's precision or higher
    stage("dtypes", _dtype_variants(best.schedule))
    # 3. per-op program configs, each role on its own, then combined
    base = best
    per_role: dict[str, Candidate] = {}
    counts: dict[str, list[int]] = {}
    for role, label, fields, rule in _role_variants(base.schedule, base.manifest):
        sched = dataclasses.replace(base.schedule, overrides={**base.schedule.overrides, role: fields})
        c = s.refuse("program configs", label, sched, rule) if rule else s.evaluate("program configs", label, sched)
        cnt = counts.setdefault(role, [0, 0])
        cnt[0] += 1
        cnt[1] += c.legal
        if c.legal and (role not in per_role or c.us < per_role[role].us):
            per_role[role] = c
    winners = {r: c for r, c in per_role.items() if _better(c, base)}
    n_cfg = sum(v[0] for v in counts.values())
    n_cfg_legal = sum(v[1] for v in counts.values())
    if winners:
        overrides = dict(base.schedule.overrides)
        for r, c in winners.items():
            overrides[r] = c.schedule.overrides[r]
        combined = s.evaluate("program configs", "; ".join(c.label for c in winners.values()),
                              dataclasses.replace(base.schedule, overrides=overrides))
        top = combined if combined.legal else min(winners.values(), key=lambda c: c.us)
    else:
        top = min(per_role.values(), key=lambda c: c.us) if per_role else None
    stages.append(("program configs", top, n_cfg, n_cfg_legal, "no legal alternative"))
    if top is not None and _better(top, best):
        best = top
    changes = [line.strip() for line in schedule_yaml_diff(schedule, best.schedule) if line.startswith("  ")]
    return SearchResult(device=device, batch=batch, reference=reference, best=best, tried=s.tried, stages=stages,
                        changes=changes, seconds=time.perf_counter() - t0)
