"""Read the call signatures of real ttnn callables and decide whether a call binds.

Runs in the ttnn venv.  Sources of signatures, in order:
- ``FastOperation`` / ``Operation`` wrappers (``ttnn.linear`` ...): the wrapped ``.function``;
  ``FastOperation.__call__`` also consumes ``queue_id`` / ``cq_id`` itself.
- nanobind functions: ``fn.__nb_signature__``; nanobind callable objects
  (``linear_t`` ...): ``type(fn).__call__.__nb_signature__``; nanobind classes:
  ``cls.__init__.__nb_signature__``.  Each holds one entry per overload, the first item of
  an entry being a string like ``def __call__(self, a: T, /, b: T = \\0, *, c: T = \\1) -> R``.
- anything else: :func:`inspect.signature`.
"""
from __future__ import annotations

import enum
import inspect
from dataclasses import dataclass, field

POSITIONAL_ONLY = "positional_only"
POSITIONAL_OR_KEYWORD = "positional_or_keyword"
KEYWORD_ONLY = "keyword_only"
VAR_POSITIONAL = "var_positional"
VAR_KEYWORD = "var_keyword"


@dataclass(frozen=True)
class Param:
    name: str
    kind: str
    has_default: bool


@dataclass
class Overload:
    params: list[Param]
    text: str = ""
    extra_keywords: frozenset[str] = field(default_factory=frozenset)

    # -- views ---------------------------------------------------------------------------
    @property
    def positional(self) -> list[Param]:
        return [p for p in self.params if p.kind in (POSITIONAL_ONLY, POSITIONAL_OR_KEYWORD)]

    @property
    def var_positional(self) -> bool:
        return any(p.kind == VAR_POSITIONAL for p in self.params)

    @property
    def var_keyword(self) -> bool:
        return any(p.kind == VAR_KEYWORD for p in self.params)

    def keyword_names(self) -> list[str]:
        names = [p.name for p in self.params if p.kind in (POSITIONAL_OR_KEYWORD, KEYWORD_ONLY)]
        return names + sorted(self.extra_keywords - set(names))

    def positional_only_names(self) -> list[str]:
        return [p.name for p in self.params if p.kind == POSITIONAL_ONLY]

    # -- binding -------------------------------------------------------------------------
    def bind_error(self, n_positional: int | None, keywords: list[str],
                   has_var_keyword_arg: bool = False) -> str | None:
        """Return why a call with this shape cannot bind to this overload, or None.

        ``n_positional`` None means the call spreads ``*args`` (count unknown);
        ``has_var_keyword_arg`` means it spreads ``**kwargs`` (required parameters may be
        supplied that way, so they are not reported missing).
        """
        positional = self.positional
        if n_positional is not None and n_positional > len(positional) and not self.var_positional:
            return f"takes at most {len(positional)} positional arguments ({n_positional} given)"
        bound = {p.name for p in positional[: n_positional or 0]}
        accepted = set(self.keyword_names())
        for kw in keywords:
            if kw in self.positional_only_names() and not self.var_keyword:
                return f"parameter '{kw}' is positional-only"
            if kw not in accepted and not self.var_keyword:
                return f"does not accept keyword '{kw}'"
            if kw in bound:
                return f"got multiple values for argument '{kw}'"
        if n_positional is None or has_var_keyword_arg:
            return None
        for p in self.params:
            if p.kind in (VAR_POSITIONAL, VAR_KEYWORD) or p.has_default:
                continue
            if p.name not in bound and p.name not in keywords:
                return f"missing required argument '{p.name}'"
        return None


# --- nanobind signature strings ------------------------------------------------------------

def _split_top_level(text: str) -> list[str]:
    parts, depth, quote, cur = [], 0, None, []
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    tail = "".join(cur).strip()
    if tail:
        parts.append(tail)
    return parts


def _param_list_text(sig: str) -> str:
    start = sig.index("(")
    depth, quote = 0, None
    for i in range(start, len(sig)):
        ch = sig[i]
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return sig[start + 1 : i]
    raise ValueError(f"unbalanced signature: {sig!r}")


def _top_level_index(text: str, needle: str) -> int:
    depth, quote = 0, None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and text.startswith(needle, i):
            return i
    return -1


def parse_nb_signature(sig: str, *, drop_self: bool) -> Overload:
    """Parse one nanobind signature string into an :class:`Overload`."""
    raw = _split_top_level(_param_list_text(sig))
    params: list[Param] = []
    kind = POSITIONAL_OR_KEYWORD
    for item in raw:
        if item in ("*", "\\*"):   # a hand-written nb::sig may escape the star for Sphinx (ttnn.open_device)
            kind = KEYWORD_ONLY
            continue
        if item == "/":
            params = [Param(p.name, POSITIONAL_ONLY, p.has_default) if p.kind == POSITIONAL_OR_KEYWORD else p
                      for p in params]
            continue
        if item.startswith("**"):
            params.append(Param(item[2:].split(":")[0].strip(), VAR_KEYWORD, True))
            continue
        if item.startswith("*"):
            params.append(Param(item[1:].split(":")[0].strip(), VAR_POSITIONAL, True))
            kind = KEYWORD_ONLY
            continue
        colon = _top_level_index(item, ":")
        eq = _top_level_index(item, "=")
        cut = min(i for i in (colon, eq, len(item)) if i >= 0)
        name = item[:cut].strip()
        params.append(Param(name, kind, eq >= 0))
    if drop_self and params and params[0].name == "self":
        params = params[1:]
    return Overload(params, text=sig)


def _from_inspect(obj) -> list[Overload]:
    sig = inspect.signature(obj)
    kinds = {
        inspect.Parameter.POSITIONAL_ONLY: POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD: POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY: KEYWORD_ONLY,
        inspect.Parameter.VAR_POSITIONAL: VAR_POSITIONAL,
        inspect.Parameter.VAR_KEYWORD: VAR_KEYWORD,
    }
    params = [Param(p.name, kinds[p.kind], p.default is not inspect.Parameter.empty
                    or p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD))
              for p in sig.parameters.values()]
    return [Overload(params, text=f"{getattr(obj, '__name__', obj)}{sig}")]


def _nb_entries(holder) -> list[str] | None:
    entries = getattr(holder, "__nb_signature__", None)
    if not entries:
        return None
    return [e[0] if isinstance(e, tuple) else str(e) for e in entries]


def _with_documented_defaults(overload: Overload, obj) -> Overload:
    """A hand-written signature (nb::sig) may omit defaults; its docstring's "name (type, optional)" says
    which parameters may be left out (e.g. ttnn.open_device's l1_small_size, dispatch_core_config)."""
    import re

    doc = getattr(obj, "__doc__", None) or ""
    optional = set(re.findall(r"^\s*(\w+) \([^)]*\boptional\b[^)]*\)", doc, re.M))
    if not optional:
        return overload
    params = [Param(p.name, p.kind, p.has_default or p.name in optional) for p in overload.params]
    return Overload(params, overload.text, overload.extra_keywords)


def is_operation(obj) -> bool:
    """True for ttnn's Python operation wrappers (``ttnn.decorators.FastOperation`` ...)."""
    t = type(obj)
    return t.__module__ == "ttnn.decorators" and hasattr(obj, "function")


def is_enum_class(obj) -> bool:
    return isinstance(obj, type) and issubclass(obj, enum.Enum)


class SignatureUnavailable(Exception):
    pass


def overloads_of(obj) -> list[Overload]:
    """All call overloads of a ttnn callable (function, operation object or class)."""
    if is_operation(obj):
        inner = overloads_of(obj.function)
        extra = frozenset({"queue_id", "cq_id"})  # FastOperation.__call__ pops these itself
        return [Overload(o.params, o.text, o.extra_keywords | extra) for o in inner]
    if isinstance(obj, type):
        entries = _nb_entries(getattr(obj, "__init__", None))
        if entries:
            return [parse_nb_signature(s, drop_self=True) for s in entries]
        try:
            return _from_inspect(obj)
        except (TypeError, ValueError) as exc:
            raise SignatureUnavailable(str(exc)) from exc
    if hasattr(obj, "__self__") and hasattr(obj, "__func__") and not isinstance(obj.__self__, type(inspect)):
        entries = _nb_entries(obj.__func__)  # bound method: the signature lists self
        if entries:
            return [parse_nb_signature(s, drop_self=True) for s in entries]
    entries = _nb_entries(obj)
    if entries:
        return [_with_documented_defaults(parse_nb_signature(s, drop_self=False), obj) for s in entries]
    entries = _nb_entries(getattr(type(obj), "__call__", None))
    if entries:
        return [parse_nb_signature(s, drop_self=True) for s in entries]
    try:
        return _from_inspect(obj)
    except (TypeError, ValueError) as exc:
        raise SignatureUnavailable(str(exc)) from exc


def accepted_keywords(overloads: list[Overload]) -> tuple[list[str], bool]:
    """Union of keyword names over overloads (in first-seen order), and whether any takes **kwargs."""
    seen: list[str] = []
    for o in overloads:
        for n in o.keyword_names():
            if n not in seen:
                seen.append(n)
    return seen, any(o.var_keyword for o in overloads)


def check_call(overloads: list[Overload], n_positional: int | None, keywords: list[str],
               has_var_keyword_arg: bool = False) -> str | None:
    """None if some overload binds the call; otherwise the most telling reason."""
    errors = [o.bind_error(n_positional, keywords, has_var_keyword_arg) for o in overloads]
    if any(e is None for e in errors):
        return None
    accepted, var_kw = accepted_keywords(overloads)
    if not var_kw:
        for kw in keywords:
            if kw not in accepted:
                return f"does not accept keyword '{kw}' (accepted: {', '.join(accepted) or 'none'})"
    if len(overloads) == 1:
        return errors[0]
    return "no overload accepts this call: " + "; ".join(sorted(set(errors)))
