"""Compare the emulator's op keyword surface with the real ttnn.

Main environment (torch, the emulator): write the emulator's surface as JSON::

    python -m conformance.compare_api --dump-emulator surface.json

ttnn venv: check it::

    .venv-ttnn/bin/python -m conformance.compare_api surface.json [--json]

The surface is ``{"ttnn.linear": ["bias", "program_config", ...], ...}`` (a dict value with a
"keywords" list is accepted too).  Every emulated op must exist in ttnn and every keyword
the emulator accepts must be accepted by the real callable (some overload of it).  Optional
keywords the real op has and the emulator lacks are reported as info.  Exit 1 on problems.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def compare(surface: dict) -> dict:
    from conformance import mockenv

    mockenv.configure()
    import ttnn

    from conformance.signatures import (
        POSITIONAL_ONLY,
        POSITIONAL_OR_KEYWORD,
        SignatureUnavailable,
        accepted_keywords,
        overloads_of,
    )

    try:
        from importlib.metadata import version

        ttnn_version = version("ttnn")
    except Exception:  # pragma: no cover
        ttnn_version = "unknown"

    ops = []
    for op, kws in sorted(surface.items()):
        if isinstance(kws, dict):
            kws = kws.get("keywords", [])
        entry = {"op": op, "emulator_keywords": sorted(kws), "problems": [], "missing_in_emulator": []}
        ops.append(entry)
        obj = ttnn
        parts = op.split(".")
        if parts[0] != "ttnn":
            entry["problems"].append(f"{op}: not a ttnn name")
            continue
        for part in parts[1:]:
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if obj is None:
            entry["problems"].append(f"{op}: does not exist in ttnn {ttnn_version}")
            continue
        try:
            overloads = overloads_of(obj)
        except SignatureUnavailable as exc:
            entry["problems"].append(f"{op}: cannot read the real signature ({exc})")
            continue
        accepted, var_kw = accepted_keywords(overloads)
        entry["real_keywords"] = accepted
        entry["real_signatures"] = [o.text for o in overloads]
        if not var_kw:
            for kw in kws:
                if kw not in accepted:
                    entry["problems"].append(
                        f"{op}: the emulator accepts keyword '{kw}', real ttnn {ttnn_version} does not "
                        f"(accepted: {', '.join(accepted)})"
                    )
        # optional real keywords the emulator lacks (required positional inputs and the
        # queue-id keywords FastOperation consumes are left out)
        optional = []
        for o in overloads:
            for p in o.params:
                if p.kind == POSITIONAL_ONLY or (p.kind == POSITIONAL_OR_KEYWORD and not p.has_default):
                    continue
                if p.kind in ("var_positional", "var_keyword"):
                    continue
                if p.name not in optional:
                    optional.append(p.name)
        entry["missing_in_emulator"] = [k for k in optional if k not in kws and k not in ("cq_id", "queue_id")]
    problems = [p for e in ops for p in e["problems"]]
    return {"ok": not problems, "ttnn_version": ttnn_version, "n_ops": len(ops),
            "n_keywords_checked": sum(len(e["emulator_keywords"]) for e in ops),
            "problems": problems, "ops": ops}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("surface", nargs="?", type=Path, help="JSON surface to check (ttnn venv)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--dump-emulator", type=Path, metavar="OUT", help="write the emulator's surface (main env)")
    args = ap.parse_args(argv)
    if args.dump_emulator:
        from conformance.harness import emulator_api_surface

        args.dump_emulator.write_text(json.dumps(emulator_api_surface(), indent=1, sort_keys=True))
        print(f"wrote {args.dump_emulator}")
        return 0
    if not args.surface:
        ap.error("give a surface JSON file (or --dump-emulator OUT)")
    result = compare(json.loads(args.surface.read_text()))
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        for e in result["ops"]:
            for p in e["problems"]:
                print(p)
            if e["missing_in_emulator"]:
                print(f"info: {e['op']}: real keywords the emulator lacks: {', '.join(e['missing_in_emulator'])}")
        print(f"{result['n_ops']} ops, {result['n_keywords_checked']} keywords checked against ttnn "
              f"{result['ttnn_version']}: {'OK' if result['ok'] else 'PROBLEMS FOUND'}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
