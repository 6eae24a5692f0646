"""The real ttnn golden functions, loaded from the installed wheel's source (main environment).

``load_golden("ttnn.linear")`` returns a :class:`Golden`: a callable running the golden function
that ttnn 0.81.1 attaches to that op (``ttnn.attach_golden_function(ttnn.linear,
golden_function=_golden_function)``), written in torch, on torch tensors.  The ttnn wheel lives in
the Python 3.12 side environment, which has no torch, and ``import ttnn`` needs its compiled
library, so nothing is imported from the wheel: its ``.py`` files are read at call time (never
copied into this repository) and the needed statements are executed here.

How a golden is found and built:

* every top-level ``attach_golden_function(<op>, <golden>)`` call in the wheel's ``.py`` files is
  indexed by the source text of ``<op>`` (``ttnn.linear``, ``ttnn.transformer.concatenate_heads``);
  ``<golden>`` is the second positional argument or ``golden_function=``, any expression
  (``_golden_function``, ``_make_inplace_golden_function(_golden_function_add)``).  So is
  ``register_python_operation(name="ttnn.from_torch", golden_function=<golden>)`` (as a decorator
  or called on a function), which attaches the same way.  Of several in one file the last wins, as
  at import time; a golden of ``None`` (``ttnn.deallocate``) means "nothing to compare";
* the names in ``<golden>`` are bound to the last top-level definition (def, class, assignment or
  import) of that name before the call's line, and the expression is evaluated;
* every other global a golden (or a helper) reads is resolved when it is first read: the module's
  final top-level binding of that name, compiled from the wheel's source with the wheel's file
  name and line numbers (tracebacks point into the wheel).  ``from ttnn.x import y`` resolves ``y``
  the same way in ``ttnn/x.py``; a ttnn submodule becomes a lazy module; other imports
  (``typing``, ``torch``) are real imports.  Each golden gets fresh module namespaces, so the
  many ``_golden_function`` definitions of one file do not collide;
* ``ttnn`` itself is the wheel's ``ttnn/__init__.py`` resolved the same way (so ``ttnn.bfloat16``,
  ``ttnn.ttnn_dtype_to_torch_dtype`` and ``ttnn.decorators`` come from the wheel), plus the ops
  that have goldens (``ttnn.gelu.golden_function``, for string activations).  The only hand-written
  part is the stand-in for the compiled extension ``ttnn._ttnn``: the enum classes the goldens
  compare against (``DataType``, ``UnaryOpType``), whose members match by class and member name
  (so the emulator's ``DataType.BFLOAT16`` or ``UnaryOpType.GELU`` is accepted as an argument).
  Anything else compiled (``ttnn.Tensor``, used e.g. to pack block floats) raises
  :class:`GoldenUnavailable` when a golden reaches it.

The wheel is found under ``$TTNN_VENV_DIR`` (default: ``.venv-ttnn`` at the repository root),
``lib/python3.*/site-packages/ttnn``; :class:`GoldenUnavailable` says so if it is absent.
"""
from __future__ import annotations

import ast
import functools
import importlib
import os
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

REPO_ROOT = Path(__file__).resolve().parent.parent
SETUP_HINT = "run: bash scripts/setup_ttnn_env.sh"

# classes of the compiled ttnn._ttnn the goldens use; the stand-ins match members by name
STAND_IN_ENUMS = ("DataType", "UnaryOpType")


class GoldenUnavailable(RuntimeError):
    """No golden for this op in the wheel, the wheel is missing, or a golden needs compiled ttnn."""


# -----------------------------------------------------------------------------------------------
# locating the wheel and its attach_golden_function calls


def ttnn_package_dir() -> Path:
    """``.../site-packages/ttnn`` of the ttnn side environment (raises GoldenUnavailable if absent)."""
    venv = Path(os.environ.get("TTNN_VENV_DIR", REPO_ROOT / ".venv-ttnn"))
    hits = sorted(p for p in venv.glob("lib/python3.*/site-packages/ttnn") if (p / "__init__.py").is_file())
    if not hits:
        raise GoldenUnavailable(f"no ttnn wheel under {venv}/lib/python3.*/site-packages/ttnn; {SETUP_HINT}")
    return hits[-1]


@functools.lru_cache(maxsize=None)
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


@dataclass(frozen=True)
class _Site:
    path: Path
    line: int
    golden: ast.expr


def _call_name(func: ast.expr) -> Optional[str]:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def _golden_sites(stmt: ast.stmt):
    """(op name, line, golden expression) of each golden a top-level statement attaches.

    ``attach_golden_function(<op>, <golden>)`` calls, and ``register_python_operation(name="ttnn.x",
    golden_function=<golden>)`` used as a decorator or called on a function (no ``golden_function``:
    None, as that function attaches then)."""
    calls = []
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        calls = [d for d in stmt.decorator_list if isinstance(d, ast.Call)]
    elif isinstance(stmt, (ast.Expr, ast.Assign)) and isinstance(stmt.value, ast.Call):
        calls = [stmt.value] + ([stmt.value.func] if isinstance(stmt.value.func, ast.Call) else [])
    for call in calls:
        kw = {k.arg: k.value for k in call.keywords}
        name = _call_name(call.func)
        if name == "attach_golden_function":
            op = call.args[0] if call.args else kw.get("operation")
            golden = call.args[1] if len(call.args) > 1 else kw.get("golden_function")
            if op is not None and golden is not None:
                yield ast.unparse(op), call.lineno, golden
        elif name == "register_python_operation":
            op = kw.get("name")
            if isinstance(op, ast.Constant) and isinstance(op.value, str):
                yield op.value, call.lineno, kw.get("golden_function", ast.Constant(value=None))


@functools.lru_cache(maxsize=None)
def _attach_index(pkg: Path) -> Dict[str, Tuple[_Site, ...]]:
    index: Dict[str, List[_Site]] = {}
    for path in sorted(pkg.rglob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if "attach_golden_function" not in text and "register_python_operation" not in text:
            continue
        for stmt in _parse(path).body:
            for op, line, golden in _golden_sites(stmt):
                index.setdefault(op, []).append(_Site(path, line, golden))
    return {k: tuple(sorted(v, key=lambda s: s.line)) for k, v in index.items()}


def ops_with_goldens() -> List[str]:
    """Every op name the wheel attaches a golden function to."""
    return sorted(_attach_index(ttnn_package_dir()))


# -----------------------------------------------------------------------------------------------
# the stand-in for the compiled extension


class _ByNameMeta(type):
    """Enum-like class whose members are created on first access and equal anything of a class of the
    same name with the same ``.name`` (nanobind / emulator enums alike)."""

    def __getattr__(cls, name):
        if name.startswith("_"):
            raise AttributeError(name)
        member = object.__new__(cls)
        member.name = name
        type.__setattr__(cls, name, member)
        return member

    def __instancecheck__(cls, obj):
        return type.__instancecheck__(cls, obj) or (
            type(obj).__name__ == cls.__name__ and isinstance(getattr(obj, "name", None), str))


class _ByNameEnum(metaclass=_ByNameMeta):
    def __eq__(self, other):
        return other is self or (type(other).__name__ == type(self).__name__
                                 and getattr(other, "name", None) == self.name)

    def __hash__(self):  # == enum.Enum.__hash__ for the same member name
        return hash(self.name)

    def __repr__(self):
        return f"{type(self).__name__}.{self.name}"


_ENUMS = {name: _ByNameMeta(name, (_ByNameEnum,), {"__module__": "ttnn._ttnn (golden stand-in)"})
          for name in STAND_IN_ENUMS}


class _Compiled:
    """``ttnn._ttnn[.submodule...]``: only the enum stand-ins resolve; anything else used raises."""

    def __init__(self, path: str):
        self._path = path

    def __getattr__(self, name):
        if name in _ENUMS:
            return _ENUMS[name]
        if name.startswith("__"):
            raise AttributeError(name)
        return _Compiled(f"{self._path}.{name}")  # a submodule, or an error once used

    def __call__(self, *args, **kwargs):
        raise GoldenUnavailable(f"{self._path} is part of the compiled ttnn library, which the golden shim "
                                f"does not provide (stand-ins: {', '.join(STAND_IN_ENUMS)})")

    def __instancecheck__(self, obj):
        self()

    def __repr__(self):
        return f"<compiled {self._path} (unavailable)>"


class _Operation:
    """``ttnn.<op>`` as the goldens see it: only ``golden_function`` (for ``get_golden_function``)."""

    def __init__(self, name: str):
        self.name = name

    @property
    def golden_function(self):
        return load_golden(self.name).function

    def __call__(self, *args, **kwargs):
        raise GoldenUnavailable(f"{self.name} is a device op; only its golden function is available")


# -----------------------------------------------------------------------------------------------
# resolving module-level names from the wheel's source


def _bound_names(stmt: ast.stmt) -> List[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [stmt.name]
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return [a.asname or a.name.split(".")[0] for a in stmt.names if a.name != "*"]
    targets = stmt.targets if isinstance(stmt, ast.Assign) else (
        [stmt.target] if isinstance(stmt, ast.AnnAssign) and stmt.value is not None else [])
    return [name for t in targets for name in _target_names(t)]


def _target_names(target: ast.expr) -> List[str]:
    """Names an assignment target binds: `f.attr = ...` and `d[k] = ...` bind nothing (they mutate f, d)."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for t in target.elts for name in _target_names(t)]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return []


class _Namespace(dict):
    """Globals of one wheel module; a missing name is resolved from the module's source on first read."""

    def __init__(self, loader: "_Loader", dotted: str, path: Path):
        super().__init__(__name__=dotted, __file__=str(path))
        self.loader, self.dotted, self.path = loader, dotted, path
        self._busy: set = set()

    def __missing__(self, name):
        return self.bind(name)  # KeyError if the module has no such binding (then: builtins)

    def bind(self, name: str, before: Optional[int] = None):
        """Bind ``name`` to its last top-level binding (before line ``before``, if given)."""
        stmt = None
        for s in _parse(self.path).body:
            if before is not None and s.lineno >= before:
                break
            if name in _bound_names(s):
                stmt = s
        if stmt is None:
            raise KeyError(name)
        if name in self._busy:
            raise GoldenUnavailable(f"{self.path}:{stmt.lineno}: circular definition of {name}")
        self._busy.add(name)
        try:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                self[name] = self.loader.import_value(self, stmt, name)
            else:
                exec(compile(ast.Module(body=[stmt], type_ignores=[]), str(self.path), "exec"), self)
        finally:
            self._busy.discard(name)
        return dict.__getitem__(self, name)


class _WheelModule(types.ModuleType):
    """A wheel module whose attributes are resolved from its source on first access."""

    def __init__(self, ns: _Namespace):
        super().__init__(ns.dotted)
        self.__dict__["_ns"] = ns

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        ns = self.__dict__["_ns"]
        try:
            return ns[name]
        except KeyError:
            pass
        full = f"{ns.dotted}.{name}"
        value = ns.loader.submodule(full)
        if value is None and full in _attach_index(ns.loader.pkg):
            value = _Operation(full)
        if value is None:
            raise AttributeError(f"{full}: no top-level binding in {ns.path} and no such submodule or op")
        return value


class _Loader:
    def __init__(self, pkg: Path):
        self.pkg = pkg
        self._modules: Dict[str, _WheelModule] = {}
        self.ttnn = self.submodule("ttnn")

    def _file(self, dotted: str) -> Optional[Path]:
        parts = dotted.split(".")[1:]
        base = self.pkg.joinpath(*parts)
        for p in (base / "__init__.py", base.with_suffix(".py") if parts else None):
            if p is not None and p.is_file():
                return p
        return None

    def submodule(self, dotted: str):
        """The wheel module ``dotted`` (lazy), the compiled stand-in, or None."""
        if dotted == "ttnn._ttnn" or dotted.startswith("ttnn._ttnn."):
            return _Compiled(dotted)
        if dotted not in self._modules:
            path = self._file(dotted)
            if path is None:
                return None
            ns = _Namespace(self, dotted, path)
            self._modules[dotted] = _WheelModule(ns)
            ns["ttnn"] = self.ttnn if dotted != "ttnn" else self._modules[dotted]
            ns["torch"] = importlib.import_module("torch")  # goldens also import it locally
        return self._modules[dotted]

    def namespace(self, dotted: str) -> _Namespace:
        return self.submodule(dotted).__dict__["_ns"]

    def import_value(self, ns: _Namespace, stmt, name: str):
        alias = next(a for a in stmt.names if (a.asname or a.name.split(".")[0]) == name)
        if isinstance(stmt, ast.Import):
            target = alias.name if alias.asname else alias.name.split(".")[0]
            return self._module(target)
        base = stmt.module or ""
        if stmt.level:
            pkg = ns.dotted if ns.path.name == "__init__.py" else ns.dotted.rpartition(".")[0]
            for _ in range(stmt.level - 1):
                pkg = pkg.rpartition(".")[0]
            base = f"{pkg}.{base}" if base else pkg
        if base == "ttnn" or base.startswith("ttnn."):
            sub = self.submodule(f"{base}.{alias.name}")
            if sub is not None:
                return sub
            mod = self.submodule(base)
            if mod is None:
                raise GoldenUnavailable(f"{ns.path}:{stmt.lineno}: {base} is not in the wheel's sources")
            return getattr(mod, alias.name)
        mod = importlib.import_module(base)
        try:
            return getattr(mod, alias.name)
        except AttributeError:
            return importlib.import_module(f"{base}.{alias.name}")

    def _module(self, dotted: str):
        if dotted == "ttnn" or dotted.startswith("ttnn."):
            mod = self.submodule(dotted)
            if mod is None:
                raise GoldenUnavailable(f"{dotted} is not in the wheel's sources")
            return mod
        return importlib.import_module(dotted)


# -----------------------------------------------------------------------------------------------
# the public entry point


@dataclass(frozen=True)
class Golden:
    """A ttnn golden function; call it like the function itself."""

    op_name: str
    function: Callable
    attached_at: str                  # "operations/matmul.py:111" (the attach_golden_function call)
    defined_at: Tuple[str, ...]       # "operations/matmul.py:69 _golden_function", one per name used
    expression: str                   # the golden argument's source, e.g. "_golden_function"

    def __call__(self, *args, **kwargs):
        return self.function(*args, **kwargs)

    @property
    def location(self) -> str:
        return self.defined_at[-1] if self.defined_at else self.attached_at

    def __str__(self):
        return f"{self.op_name}: {self.expression} ({', '.join(self.defined_at)}; attached at {self.attached_at})"


def load_golden(op_name: str) -> Golden:
    """The golden function ttnn attaches to ``op_name`` (e.g. ``"ttnn.linear"``), built from the wheel."""
    pkg = ttnn_package_dir()
    sites = _attach_index(pkg).get(op_name)
    if not sites:
        raise GoldenUnavailable(f"the ttnn wheel at {pkg} attaches no golden function to {op_name}")
    files = sorted({str(s.path.relative_to(pkg)) for s in sites})
    if len(files) > 1:
        raise GoldenUnavailable(f"{op_name} gets golden functions in several files ({', '.join(files)}); "
                                f"which one wins depends on import order")
    site = sites[-1]
    rel = site.path.relative_to(pkg)
    dotted = ".".join(("ttnn",) + rel.with_suffix("").parts).removesuffix(".__init__")
    ns = _Loader(pkg).namespace(dotted)
    defined = []
    for node in ast.walk(site.golden):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            try:
                value = ns.bind(node.id, before=site.line)
            except KeyError:
                continue  # a builtin
            code = getattr(value, "__code__", None)
            if code is not None and code.co_filename == str(site.path):
                defined.append(f"{rel}:{code.co_firstlineno} {node.id}")
    fn = eval(compile(ast.Expression(body=site.golden), str(site.path), "eval"), ns)
    if fn is None:
        raise GoldenUnavailable(f"the ttnn wheel attaches golden_function=None to {op_name} ({rel}:{site.line})")
    return Golden(op_name, fn, f"{rel}:{site.line}", tuple(defined), ast.unparse(site.golden))
