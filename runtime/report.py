"""`python -m runtime run BUILD --report DIR`: the emulator run's ops, tensors and L1 buffers as a ttnn
graph-capture report (DIR/graph_capture.json, runtime/emulator/graph_capture.py), imported into a
ttnn-visualizer database (DIR/db.sqlite) by the real `ttnn.graph_report` of the side environment (.venv-ttnn,
ttnn 0.81.1): open DIR in ttnn-visualizer. The build's per-op circular-buffer plan goes beside it
(DIR/l1_plan.json, from the manifest) since the emulator's capture records buffers, not CBs.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from compiler.errors import UserError

IMPORTER = "ttnn.graph_report"


def capture_run(session, inputs: dict, out_dir: Path) -> tuple[tuple, Path]:
    """Run one batch under capture; returns ((start, end), report path)."""
    from runtime.emulator.graph_capture import Capture

    if session.backend.name != "emulator":
        raise UserError("--report records the host emulator's run; pass --device emulator")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot write the report to {out_dir}: {e.strerror or e}; pass --report a directory") from None
    cap = Capture(session.device, session.ttnn)
    try:
        logits = session.predict(**inputs)
    finally:
        report = cap.finish()
    report["metadata"]["build"] = str(session.build.path)
    path = out_dir / "graph_capture.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report), encoding="utf-8")
    tmp.replace(path)
    plan = [{"name": op["name"], **(op.get("l1") or {})} for op in session.build.manifest["ops"]]
    (out_dir / "l1_plan.json").write_text(json.dumps(plan, indent=1), encoding="utf-8")
    return logits, path


def import_to_visualizer(report: Path, out_dir: Path) -> Path:
    """Run the real importer in the side environment; returns the database path."""
    from conformance.harness import TTNNEnvMissing, run_in_venv

    try:
        proc = run_in_venv(["-m", IMPORTER, str(report.resolve()), str(out_dir.resolve())], timeout=600)
    except TTNNEnvMissing as e:
        raise UserError(f"--report needs the side environment with the real ttnn to build the visualizer database "
                        f"({e}); {report} is written") from None
    db = out_dir / "db.sqlite"
    if proc.returncode != 0 or not db.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise UserError(f"ttnn.graph_report could not import {report}: {tail[0]}")
    return db


def summary(db: Path) -> dict:
    con = sqlite3.connect(db)
    try:
        count = {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in ("operations", "tensors", "buffers")}
    finally:
        con.close()
    return count
