"""No code injection through program.py (issue 15): every value from the user's files that reaches the emitted
source (model directory name, device YAML name / arch / dispatch / ttnn_api / select_env, schedule file name and
hash, config hash, grid reason) is fuzzed with quotes, backslashes, newlines, unicode and `\"\"\"`. The emitted
module must parse to the same AST as a build with plain values (string constants aside), and every string
constant that carries a fuzzed value must hold exactly that value.
"""
from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from compiler.emit import py_literal, py_text, render
from compiler.errors import ScheduleError

ROOT = Path(__file__).resolve().parents[2]
MODEL = str(ROOT / "models" / "minilm-l6-squad1")

# The pieces that end a literal, a docstring or a comment, or that change what follows them.
NASTY = ['"""', "'''", '"', "'", "\\", "\\\\", "\n", "\r", "\r\n", "\x00", "\x0c", "\x1b", "\u2028", "\u2029",
         "\u202e", "\ufeff", "\ud800", "\udfff", "\\N{", "\\x4", "\\u12", "#", "{{ x }}", "{% if x %}", "\t",
         '");import os;os.system("id")#', '"""\nimport os\nos.system("id")\n"""', "\\\n", "ünïcødé", "日本語", "😀",
         "${HOME}", "`id`", "' + __import__('os').getcwd() + '"]
HOSTILE = st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=8),
                             st.characters(min_codepoint=0, max_codepoint=0x10FFFF)), min_size=1, max_size=6).map("".join)
ENV_NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)
# Path names cannot hold "/" (a separator) or NUL (refused by the OS before any build).
PATH_NAME = HOSTILE.map(lambda s: s.replace("/", "_").replace("\x00", "_")).filter(lambda s: s not in ("", ".", ".."))
FIELDS = ("model_name", "config_hash", "grid_reason", "device_name", "arch", "dispatch", "ttnn_api", "schedule_sha")


@pytest.fixture(scope="module")
def program():
    from compiler.build import compile_model
    from compiler.schedule import find_device

    return compile_model(batch=2, device=find_device("wormhole_n300"), model=MODEL).program


def _variant(program, values: dict, env: dict, schedule_name: str):
    device = dataclasses.replace(program.device, name=values["device_name"], arch=values["arch"],
                                 dispatch=values["dispatch"], ttnn_api=values["ttnn_api"], select_env=env)
    schedule = dataclasses.replace(program.schedule, path=Path("/nonexistent") / schedule_name,
                                   sha256=values["schedule_sha"])
    return dataclasses.replace(program, model_name=values["model_name"], config_hash=values["config_hash"],
                               grid_reason=values["grid_reason"], device=device, schedule=schedule)


class _Blank(ast.NodeTransformer):
    """Blanks string constants and the REQUIRED_ENV_<key> names (checked one by one below)."""

    def visit_Constant(self, node):
        return ast.Constant("") if isinstance(node.value, str) else node

    def visit_Name(self, node):
        return ast.Name("REQUIRED_ENV_", node.ctx) if node.id.startswith("REQUIRED_ENV_") else node


def _shape(source: str) -> str:
    return ast.dump(_Blank().visit(ast.parse(source)), include_attributes=False)


_BENIGN: dict[int, str] = {}


def _benign_shape(program, env_count: int) -> str:
    if env_count not in _BENIGN:
        values = {f: "x" for f in FIELDS}
        values["ttnn_api"] = "0.81"   # the template branches on v0.55 only: any other value takes this branch
        _BENIGN[env_count] = _shape(render(_variant(program, values, {f"K{i}": "v" for i in range(env_count)}, "s.yaml")))
    return _BENIGN[env_count]


@settings(max_examples=150, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(values=st.fixed_dictionaries({f: HOSTILE for f in FIELDS}),
       env=st.dictionaries(ENV_NAME, HOSTILE, max_size=3), schedule_name=PATH_NAME)
def test_fuzzed_fields_stay_data(program, values, env, schedule_name, case_counter):
    case_counter["emitted source fields"] += len(FIELDS) + len(env) + 1
    if values["ttnn_api"] == "v0.55":
        values["ttnn_api"] += "x"
    source = render(_variant(program, values, env, schedule_name))
    tree = ast.parse(source)                              # still Python
    compile(tree, "program.py", "exec")
    assert _shape(source) == _benign_shape(program, len(env)), "the fuzzed values added code"

    doc = ast.get_docstring(tree, clean=False)
    for field in ("model_name", "device_name", "arch", "dispatch", "ttnn_api", "config_hash", "grid_reason"):
        assert values[field] in doc, field                # the docstring holds each value verbatim
    assert values["schedule_sha"][:16] in doc and schedule_name in doc
    constants = {t.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
                 for t in node.targets if isinstance(t, ast.Name) and isinstance(node.value, ast.Constant)}
    assert constants["TTNN_API"] == values["ttnn_api"] and constants["CONFIG_HASH"] == values["config_hash"]
    for key, value in env.items():
        assert constants[f"REQUIRED_ENV_{key}"] == value


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(value=HOSTILE)
def test_quoting_functions_round_trip(value, case_counter):
    case_counter["emitted source fields"] += 1
    assert ast.literal_eval(py_literal(value)) == value
    assert ast.literal_eval('"""' + py_text(value) + '"""') == value
    # inside a comment: one line, so nothing after it can be code
    assert "\n" not in py_text(value) and "\r" not in py_text(value)
    assert len(list(ast.walk(ast.parse(f"x = 1  # {py_text(value)}\n")))) == len(list(ast.walk(ast.parse("x = 1\n"))))


@pytest.mark.parametrize("key", ["A-B", "1X", "A B", "X\n", "", "ü\u0301"])
def test_select_env_key_that_is_no_name_is_refused_by_the_emitter(program, key):
    with pytest.raises(ScheduleError, match="cannot be a name"):
        render(_variant(program, {**{f: "x" for f in FIELDS}, "ttnn_api": "0.81"}, {key: "v"}, "s.yaml"))


def test_template_cannot_paste_an_unquoted_value():
    """The emitter's jinja environment refuses a raw string: every value goes through |py, |text or |ident."""
    from compiler.emit import _ENV

    with pytest.raises(TypeError, match="unquoted"):
        _ENV.from_string("X = {{ value }}").render(value='"; import os')
    assert _ENV.from_string("X = {{ value|py }}").render(value='"; import os') == 'X = "\\"; import os"'
