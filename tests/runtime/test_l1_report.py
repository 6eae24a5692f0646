"""The emulator places buffers where the compiler's plan says (one allocator module), its run becomes a ttnn
graph-capture report that the real ttnn.graph_report importer (.venv-ttnn, ttnn 0.81.1) accepts, and the
database's buffers and tensors carry our addresses; explain --plot draws per-op L1."""
import json
import sqlite3

import pytest

from compiler import cli as compiler_cli
from compiler.build import compile_model, write_build
from compiler.schedule import find_device
from runtime import cli as runtime_cli


@pytest.fixture(scope="module", params=[("grayskull_e150", 12), ("wormhole_n300_eth", 8)], ids=["gs-b12", "wh-eth-b8"])
def reported(request, small_model, tmp_path_factory):
    name, batch = request.param
    model_dir, _ = small_model
    root = tmp_path_factory.mktemp(f"report-{name}")
    result = compile_model(batch=batch, device=find_device(name), model=str(model_dir))
    write_build(result, root / "build")
    mp = pytest.MonkeyPatch()
    mp.setenv("TT_BERT_CACHE", str(root / "cache"))
    try:
        code = runtime_cli.main(["run", str(root / "build"), "--device", "emulator", "--report", str(root / "report")])
    finally:
        mp.undo()
    assert code == 0
    manifest = json.loads((root / "build" / "manifest.json").read_text())
    return name, root, manifest


def _planned(manifest):
    """(op name, value, address) of every buffer the compiler's plan places."""
    return [(op["name"], b["value"], b["address"]) for op in manifest["ops"] for b in op["l1"]["buffers"]]


def test_emulator_addresses_are_the_plans(reported):
    _, root, manifest = reported
    report = json.loads((root / "report" / "graph_capture.json").read_text())
    nodes = report["graph"]
    skip = {"deallocate", "reshape", "from_torch", "to_torch", "to_device"}
    outputs = [[int(nodes[c]["params"]["address"]) for c in n["connections"] if "address" in nodes[c]["params"]]
               for n in nodes if n["node_type"] == "function_end" and n["stacking_level"] == 0
               and n["params"]["name"].rsplit(".", 1)[-1] not in skip]
    assert len(outputs) == len(manifest["ops"])
    for got, op in zip(outputs, manifest["ops"]):
        if not op["inplace"]:
            assert got == [b["address"] for b in op["l1"]["buffers"]], op["name"]


def test_the_real_importer_accepts_the_report(reported):
    name, root, manifest = reported
    db = root / "report" / "db.sqlite"
    assert db.is_file()
    con = sqlite3.connect(db)
    try:
        dev = con.execute("select worker_l1_size, l1_num_banks, address_at_first_l1_bank from devices").fetchone()
        spec = manifest["device_spec"]
        assert dev == (spec["l1_bytes_per_core"], spec["grid"][0] * spec["grid"][1], spec["l1_unreserved_base"])
        ops = [r[0] for r in con.execute("select name from operations order by operation_id")]
        assert "ttnn.linear" in ops and "ttnn.experimental.split_query_key_value_and_split_heads" in ops
        buffer_addresses = {r[0] for r in con.execute("select address from buffers where buffer_type = 1")}
        tensor_addresses = {r[0] for r in con.execute("select address from tensors where buffer_type = 1")}
    finally:
        con.close()
    planned = {addr for _, _, addr in _planned(manifest)}
    # every buffer the plan places shows in the buffers table at that address, and nothing else does
    assert planned <= buffer_addresses and planned <= tensor_addresses
    base, end = manifest["device_spec"]["l1_unreserved_base"], manifest["device_spec"]["l1_bytes_per_core"]
    assert all(base <= a < end for a in buffer_addresses)


def test_report_needs_the_emulator(reported, capsys):
    _, root, _ = reported
    code = runtime_cli.main(["run", str(root / "build"), "--device", "ttnn", "--report", str(root / "x")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err


def test_explain_plot(reported, tmp_path, capsys):
    _, root, _ = reported
    out = tmp_path / "l1.png"
    assert compiler_cli.main(["explain", str(root / "build"), "--top", "1", "--plot", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
