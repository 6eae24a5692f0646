"""Shared mutation strategies for the hostile-input fuzz tests."""
from __future__ import annotations

import copy

from hypothesis import strategies as st

HOSTILE_SCALARS = st.one_of(
    st.sampled_from([-1, 0, 1, 3, 7, 31, 33, 100, 2 ** 31, 2 ** 63, 2 ** 70, 10 ** 400, -2 ** 70]),
    st.integers(min_value=-10 ** 6, max_value=10 ** 6),
    st.sampled_from([0.5, -0.0, 1e308, -1e308, float("inf"), float("nan"), 1e-300]),
    st.sampled_from(["", " ", "auto", "x", "DRAM", "bfloat16", "ROW_MAJOR", "LoFi", "yes", "null", "x" * 5000,
                     "ünïcødé", "\u202e", "a\nb", "0x10"]),
    st.text(max_size=20),
    st.sampled_from([None, True, False, [], {}, [1, 2], {"a": 1}, [[[]]], {"x": {"y": {"z": None}}}]),
)


def paths(obj, prefix=()):
    """Every key path into nested dicts/lists."""
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.append(prefix + (k,))
            out.extend(paths(v, prefix + (k,)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.append(prefix + (i,))
            out.extend(paths(v, prefix + (i,)))
    return out


def _parent(obj, path):
    for k in path[:-1]:
        obj = obj[k]
    return obj


@st.composite
def structural_mutation(draw, base, extra_values=st.nothing()):
    """Apply 1-3 structural edits to a copy of `base`: delete, retype, add unknown keys, rename."""
    obj = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        ps = paths(obj)
        op = draw(st.sampled_from(["delete", "replace", "replace", "unknown", "rename", "root"]))
        if op == "root" or not ps:
            if draw(st.booleans()):
                obj = copy.deepcopy(draw(HOSTILE_SCALARS))
                break
            if isinstance(obj, dict):
                obj[draw(st.sampled_from(["extra", "nmae", "Name", "model ", "inputs2", "data_"]))] = copy.deepcopy(draw(HOSTILE_SCALARS))
            continue
        path = draw(st.sampled_from(ps))
        parent = _parent(obj, path)
        key = path[-1]
        if op == "delete":
            del parent[key]
        elif op == "replace":
            parent[key] = copy.deepcopy(draw(st.one_of(HOSTILE_SCALARS, extra_values)))
        elif op == "unknown":
            target = parent[key] if isinstance(parent[key], dict) else parent
            if isinstance(target, dict):
                target[draw(st.sampled_from(["bogus", "x_", "colour", "seq_lenn", "qusetion", "contxt", "1"]))] = \
                    copy.deepcopy(draw(HOSTILE_SCALARS))
            elif isinstance(target, list):
                target.append(copy.deepcopy(draw(HOSTILE_SCALARS)))
        elif op == "rename" and isinstance(parent, dict):
            value = parent.pop(key)
            parent[str(key)[:-1] + "_" if str(key) else "_"] = value
    return obj


@st.composite
def text_mutation(draw, text: str):
    """Byte-level damage to a valid file's text: truncation, junk, duplicated lines, bad bytes, empty."""
    data = text.encode("utf-8")
    op = draw(st.sampled_from(["truncate", "insert", "dup_line", "bad_utf8", "empty", "whitespace", "nul", "flip"]))
    if op == "truncate":
        return data[:draw(st.integers(0, len(data)))]
    if op == "insert":
        at = draw(st.integers(0, len(data)))
        junk = draw(st.sampled_from([b":", b"{", b"[", b"]", b"}", b"\t", b"- ", b"&a ", b"*a", b"!!python/object ",
                                      b"%YAML 1.1\n", b"---\n", b"\"", b"'", b",", b"\\", b"?", b"@", b"`"]))
        return data[:at] + junk + data[at:]
    if op == "dup_line":
        lines = data.splitlines(keepends=True)
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        return b"".join(lines[:i + 1] + lines[i:i + 1] + lines[i + 1:])
    if op == "bad_utf8":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xfe\xff", b"\x80\x80"])) + data[at:]
    if op == "empty":
        return b""
    if op == "whitespace":
        return draw(st.sampled_from([b" ", b"\n\n", b"\t", b"\r\n", b"\xef\xbb\xbf"]))
    if op == "nul":
        at = draw(st.integers(0, len(data)))
        return data[:at] + b"\x00" + data[at:]
    at = draw(st.integers(0, max(len(data) - 1, 0)))
    if not data:
        return data
    return data[:at] + bytes([data[at] ^ (1 << draw(st.integers(0, 7)))]) + data[at + 1:]


def assert_one_error_line(rc, err, names):
    """Exit 0, or exit 2 with exactly one `error: ` line naming one of `names`."""
    assert rc in (0, 2), (rc, err)
    if rc == 2:
        lines = err.strip("\n").split("\n")
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert "Traceback" not in err
        assert any(n in lines[0] for n in names), (names, lines[0])
