"""Check emitted TT-NN programs against the real ttnn package (runs in the ttnn venv).

    python -m conformance.check_program FILE.py [FILE.py ...] [--json]

For each file:
1. Static pass (``ast``): every attribute chain rooted at ``ttnn`` (also ``import ttnn as X``
   and ``from ttnn import Y``) must resolve in the real ttnn; every call of one must bind to
   at least one overload of the real callable: positional count, each keyword accepted
   (keyword-only ``*``, positional-only ``/``, defaults and ``**kwargs`` honoured), no
   required parameter left out.  Signatures come from nanobind metadata, never from
   calling an op (ops on host tensors can crash the process).
2. Execution pass: the module's top level runs with the real ttnn and a stub ``torch``
   (functions are defined, not called), so every memory / program config it builds at
   module level is constructed by ttnn's own classes, which reject bad keywords and bad
   values.  Constructions are counted; calling a ttnn *op* at module level is refused.

Problems print as ``FILE:LINE: ttnn.X ...``; the exit status is 1 if there is any.
"""
from __future__ import annotations

import argparse
import ast
import importlib.abc
import importlib.machinery
import json
import sys
import traceback
import types
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from conformance import mockenv

mockenv.configure()

import ttnn  # noqa: E402  (after the environment is configured)

from conformance.api_levels import V055_ABSENT_KEYWORDS, V055_ONLY, V055Class, program_api_level  # noqa: E402
from conformance.signatures import (  # noqa: E402
    SignatureUnavailable,
    check_call,
    is_enum_class,
    is_operation,
    overloads_of,
)

try:
    from importlib.metadata import version as _dist_version

    TTNN_VERSION = _dist_version("ttnn")
except Exception:  # pragma: no cover
    TTNN_VERSION = "unknown"

_MISSING = object()


@dataclass
class FileReport:
    path: str
    calls_checked: int = 0
    functions: set[str] = field(default_factory=set)
    references_checked: int = 0
    constructed: Counter = field(default_factory=Counter)
    construction_sites: list[tuple[str, int]] = field(default_factory=list)
    config_globals: int = 0
    problems: list[str] = field(default_factory=list)
    info: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "ok": self.ok,
            "ttnn_calls_checked": self.calls_checked,
            "distinct_functions": sorted(self.functions),
            "n_distinct_functions": len(self.functions),
            "attribute_references_checked": self.references_checked,
            "configs_constructed": dict(sorted(self.constructed.items())),
            "n_configs_constructed": sum(self.constructed.values()),
            "config_globals": self.config_globals,
            "problems": list(self.problems),
            "info": list(self.info),
        }


# ---------------------------------------------------------------------------------------------
# static pass

def _resolve(dotted: str):
    """getattr along ``ttnn.a.b``; returns the object or _MISSING."""
    parts = dotted.split(".")
    assert parts[0] == "ttnn"
    obj = ttnn
    for part in parts[1:]:
        try:
            obj = getattr(obj, part)
        except Exception:
            return _MISSING
    return obj


class _StaticChecker(ast.NodeVisitor):
    def __init__(self, report: FileReport, label: str, api: str = "0.81"):
        self.report = report
        self.label = label
        self.api = api
        self.aliases: dict[str, str] = {}  # local name -> dotted ttnn path

    # imports --------------------------------------------------------------------------
    def collect_aliases(self, tree: ast.AST) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name == "ttnn" or a.name.startswith("ttnn."):
                        if a.asname:
                            self.aliases[a.asname] = a.name
                        else:
                            self.aliases["ttnn"] = "ttnn"
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module == "ttnn" or node.module.startswith("ttnn."):
                    for a in node.names:
                        if a.name == "*":
                            continue
                        dotted = f"{node.module}.{a.name}"
                        self.aliases[a.asname or a.name] = dotted
                        self._check_reference(dotted, node.lineno)

    def _chain(self, node: ast.AST) -> str | None:
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in self.aliases:
            return ".".join([self.aliases[node.id]] + parts[::-1])
        return None

    def _problem(self, lineno: int, msg: str) -> None:
        self.report.problems.append(f"{self.label}:{lineno}: {msg}")

    def _check_reference(self, dotted: str, lineno: int):
        if self.api == "v0.55" and dotted in V055_ONLY:
            return V055_ONLY[dotted]
        obj = _resolve(dotted)
        if obj is _MISSING:
            # name the first missing component
            parts = dotted.split(".")
            for i in range(2, len(parts) + 1):
                if _resolve(".".join(parts[:i])) is _MISSING:
                    self._problem(lineno, f"{'.'.join(parts[:i])} does not exist in ttnn {TTNN_VERSION}")
                    break
        return obj

    # visitors -------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        dotted = self._chain(node.func)
        if dotted is not None and dotted != "ttnn":
            self._check_call(node, dotted)
            for child in list(node.args) + [k.value for k in node.keywords]:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        # only outermost chains (the callee of a call is handled in visit_Call)
        dotted = self._chain(node)
        if dotted is not None:
            self.report.references_checked += 1
            self._check_reference(dotted, node.lineno)
            return  # do not descend into the sub-chains of the same reference
        self.generic_visit(node)

    def _check_call(self, node: ast.Call, dotted: str) -> None:
        self.report.calls_checked += 1
        obj = self._check_reference(dotted, node.lineno)
        if obj is _MISSING:
            return
        self.report.functions.add(dotted)
        keywords = [k.arg for k in node.keywords if k.arg is not None]
        if self.api == "v0.55" and dotted in V055_ONLY:
            accepted, _source = V055_ONLY[dotted]
            for k in keywords:
                if k not in accepted:
                    self._problem(node.lineno, f"{dotted} does not accept keyword '{k}' at API v0.55 "
                                               f"(accepted: {', '.join(accepted)})")
            if node.args:
                self._problem(node.lineno, f"{dotted} takes keyword arguments only at API v0.55")
            return
        if self.api == "v0.55" and dotted in V055_ABSENT_KEYWORDS:
            absent, _source = V055_ABSENT_KEYWORDS[dotted]
            for k in keywords:
                if k in absent:
                    self._problem(node.lineno, f"{dotted} keyword '{k}' does not exist at API v0.55")
        if not callable(obj):
            self._problem(node.lineno, f"{dotted} is not callable (it is a {type(obj).__name__})")
            return
        if is_enum_class(obj):
            return  # Enum(value) lookups: nothing to bind
        try:
            overloads = overloads_of(obj)
        except SignatureUnavailable as exc:
            self._problem(node.lineno, f"{dotted}: cannot read its signature ({exc})")
            return
        starred = any(isinstance(a, ast.Starred) for a in node.args)
        n_pos = None if starred else len(node.args)
        spread_kw = any(k.arg is None for k in node.keywords)
        why = check_call(overloads, n_pos, keywords, spread_kw)
        if why is not None:
            self._problem(node.lineno, f"{dotted} {why}")


# ---------------------------------------------------------------------------------------------
# execution pass

class ModuleLevelOpCall(RuntimeError):
    pass


class _TorchStub:
    """Stands in for torch and everything reached from it; records what was touched."""

    def __init__(self, path: str, touched: set[str]):
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_touched", touched)

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        path = f"{self._path}.{name}"
        self._touched.add(path)
        return _TorchStub(path, self._touched)

    def __call__(self, *args, **kwargs):
        return _TorchStub(f"{self._path}()", self._touched)

    def __getitem__(self, item):
        return _TorchStub(f"{self._path}[]", self._touched)

    def __or__(self, other):
        return self

    __ror__ = __or__

    def __repr__(self) -> str:
        return f"<torch stub {self._path}>"


class _TorchStubModule(types.ModuleType):
    def __init__(self, name: str, touched: set[str]):
        super().__init__(name)
        self.__path__ = []  # a package, so "import torch.nn.functional" works
        self._touched = touched

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        path = f"{self.__name__}.{name}"
        self._touched.add(path)
        return _TorchStub(path, self._touched)


class _TorchStubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, touched: set[str]):
        self.touched = touched

    def find_spec(self, fullname, path, target=None):
        if fullname == "torch" or fullname.startswith("torch."):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        return _TorchStubModule(spec.name, self.touched)

    def exec_module(self, module):
        pass


class _Recorder:
    def __init__(self, program_path: str, report: FileReport):
        self.program_path = program_path
        self.report = report

    def site(self) -> int:
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == self.program_path:
                return frame.f_lineno
            frame = frame.f_back
        return 0

    def constructed(self, dotted: str) -> None:
        self.report.constructed[dotted] += 1
        self.report.construction_sites.append((dotted, self.site()))


def _counting_class(real: type, dotted: str, rec: _Recorder) -> type:
    class _Meta(type):
        def __call__(cls, *args, **kwargs):
            obj = real(*args, **kwargs)
            rec.constructed(dotted)
            return obj

        def __instancecheck__(cls, inst):
            return isinstance(inst, real)

        def __subclasscheck__(cls, sub):
            return issubclass(sub, real)

        def __getattr__(cls, name):
            return getattr(real, name)

        def __repr__(cls):
            return repr(real)

    return _Meta(real.__name__, (), {"__module__": real.__module__, "__doc__": real.__doc__})


class _TTNNProxy(types.ModuleType):
    """Forwards to the real ttnn; counts class constructions; refuses op calls."""

    def __init__(self, real: types.ModuleType, dotted: str, rec: _Recorder):
        super().__init__(real.__name__)
        object.__setattr__(self, "_real", real)
        object.__setattr__(self, "_dotted", dotted)
        object.__setattr__(self, "_rec", rec)
        object.__setattr__(self, "_cache", {})

    def __getattr__(self, name: str):
        cache = self._cache
        if name in cache:
            return cache[name]
        val = getattr(self._real, name)
        dotted = f"{self._dotted}.{name}"
        if isinstance(val, types.ModuleType) and val.__name__.startswith("ttnn"):
            wrapped = _TTNNProxy(val, dotted, self._rec)
        elif isinstance(val, type) and not is_enum_class(val):
            wrapped = _counting_class(val, dotted, self._rec)
        elif is_operation(val) or (callable(val) and type(type(val)).__name__ == "nb_type"):
            wrapped = _refuse(dotted)  # ttnn ops (FastOperation, or nanobind op objects)
        elif isinstance(val, types.FunctionType) or type(val).__name__ == "nb_func":
            wrapped = _counting_function(val, dotted, self._rec)  # helpers, e.g. create_sharded_memory_config
        else:
            wrapped = val
        cache[name] = wrapped
        return wrapped


def _refuse(dotted: str):
    def refused(*args, **kwargs):
        raise ModuleLevelOpCall(
            f"{dotted} is an operation and was called at module level; emitted programs must "
            "only build configs at module level (ops run inside functions)"
        )

    return refused


def _counting_function(fn, dotted: str, rec: _Recorder):
    def wrapper(*args, **kwargs):
        result = fn(*args, **kwargs)
        if _is_config_object(result):
            rec.constructed(dotted)
        return result

    wrapper.__wrapped__ = fn
    return wrapper


def _is_config_object(obj) -> bool:
    t = type(obj)
    mod = getattr(t, "__module__", "") or ""
    return mod.startswith("ttnn") and not isinstance(obj, (type, types.ModuleType, types.FunctionType)) \
        and not is_enum_class(t) and not is_operation(obj)


def _count_config_globals(ns: dict) -> int:
    seen: set[int] = set()
    count = 0

    def walk(v, depth=0):
        nonlocal count
        if depth > 6 or id(v) in seen:
            return
        seen.add(id(v))
        if isinstance(v, dict):
            for x in v.values():
                walk(x, depth + 1)
        elif isinstance(v, (list, tuple, set, frozenset)):
            for x in v:
                walk(x, depth + 1)
        elif _is_config_object(v):
            count += 1

    provided = {id(getattr(ttnn, n, None)) for n in dir(ttnn)}
    for k, v in ns.items():
        if k.startswith("__") or id(v) in provided:
            continue
        walk(v)
    return count


def _execute(path: Path, source: str, report: FileReport, label: str, api: str = "0.81") -> None:
    rec = _Recorder(str(path), report)
    proxy = _TTNNProxy(ttnn, "ttnn", rec)
    if api == "v0.55":  # names 0.81.1 removed: keyword-checked stand-ins (conformance/api_levels.py)
        for dotted, (accepted, _source) in V055_ONLY.items():
            proxy._cache[dotted.split(".", 1)[1]] = V055Class(dotted, accepted)
    touched: set[str] = set()
    finder = _TorchStubFinder(touched)
    saved = {k: v for k, v in sys.modules.items() if k == "ttnn" or k == "torch" or k.startswith("torch.")}
    for k in list(sys.modules):
        if k == "torch" or k.startswith("torch."):
            del sys.modules[k]
    sys.modules["ttnn"] = proxy
    sys.meta_path.insert(0, finder)
    module = types.ModuleType("emitted_program")
    module.__file__ = str(path)
    try:
        code = compile(source, str(path), "exec", dont_inherit=True)
        exec(code, module.__dict__)
    except BaseException as exc:  # noqa: BLE001 - report anything, including SystemExit
        line = 0
        for fs in traceback.extract_tb(exc.__traceback__):
            if fs.filename == str(path):
                line = fs.lineno or 0
        msg = [m.strip() for m in str(exc).strip().splitlines() if m.strip()]
        first = msg[0] if msg else ""
        invoked = [m for m in msg if m.startswith("Invoked with")]
        if invoked:  # nanobind: name the class and the argument types it was given
            first = f"{first.split(':')[0]} rejected the arguments; {invoked[0]}"
        report.problems.append(
            f"{label}:{line}: executing the module top level with the real ttnn failed: "
            f"{type(exc).__name__}: {first}"
        )
    finally:
        sys.meta_path.remove(finder)
        for k in list(sys.modules):
            if k == "torch" or k.startswith("torch."):
                del sys.modules[k]
        sys.modules.update(saved)
        if "ttnn" not in saved:
            sys.modules["ttnn"] = ttnn
    report.config_globals = _count_config_globals(module.__dict__)
    used = sorted(t for t in touched if t.count(".") >= 1)
    if used:
        report.info.append(f"torch names touched at module level (stubbed): {', '.join(used[:12])}"
                           + (" ..." if len(used) > 12 else ""))


# ---------------------------------------------------------------------------------------------

def check_file(path: str | Path, *, execute: bool = True) -> FileReport:
    path = Path(path).resolve()
    label = str(path)
    report = FileReport(label)
    try:
        source = path.read_text()
        tree = ast.parse(source, filename=str(path))
    except (OSError, SyntaxError) as exc:
        report.problems.append(f"{label}:{getattr(exc, 'lineno', 0) or 0}: cannot parse: {exc}")
        return report
    api = program_api_level(tree)
    report.info.append(f"TT-NN API level {api}")
    checker = _StaticChecker(report, label, api)
    checker.collect_aliases(tree)
    if not checker.aliases:
        report.problems.append(f"{label}:1: the program never imports ttnn")
    checker.visit(tree)
    if execute:
        _execute(path, source, report, label, api)
    return report


def _summary_line(r: FileReport) -> str:
    by_class = ", ".join(f"{k.split('.')[-1]} x{v}" for k, v in sorted(r.constructed.items()))
    return (
        f"{r.path}: {r.calls_checked} ttnn calls checked ({len(r.functions)} distinct functions), "
        f"{r.references_checked} other ttnn references, {sum(r.constructed.values())} config objects "
        f"constructed at module level" + (f" ({by_class})" if by_class else "")
        + f" -- {'OK' if r.ok else 'FAILED'}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    ap.add_argument("--no-exec", action="store_true", help="static checks only")
    args = ap.parse_args(argv)
    reports = [check_file(f, execute=not args.no_exec) for f in args.files]
    ok = all(r.ok for r in reports)
    if args.json:
        totals = {
            "ttnn_calls_checked": sum(r.calls_checked for r in reports),
            "configs_constructed": sum(sum(r.constructed.values()) for r in reports),
            "attribute_references_checked": sum(r.references_checked for r in reports),
            "distinct_functions": sorted(set().union(*(r.functions for r in reports))),
        }
        print(json.dumps({"ok": ok, "ttnn_version": TTNN_VERSION, "totals": totals,
                          "files": [r.as_dict() for r in reports]}, indent=2))
    else:
        for r in reports:
            for p in r.problems:
                print(p)
            for i in r.info:
                print(f"{r.path}: info: {i}")
            print(_summary_line(r))
        print(f"ttnn {TTNN_VERSION}: {'all programs conform' if ok else 'PROBLEMS FOUND'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
