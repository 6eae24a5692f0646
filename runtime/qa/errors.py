"""The one error type that bad question-answering input raises."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from compiler.errors import NotARegularFile, read_regular


class QAInputError(ValueError):
    """Bad user input (file, JSON structure, question/context, counts).

    The message is always one line: which file, which element (as a JSON path such as
    ``data[3].paragraphs[0].qas[2].question``), what is wrong and how to fix it, so a CLI
    can print ``str(err)`` and exit 2.
    """

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class NonFiniteLogits(ValueError):
    """The program returned NaN or inf logits (finite weights and inputs overflowed somewhere)."""


def element_error(source: str | Path, where: str, problem: str, fix: str) -> QAInputError:
    """Build a ``QAInputError`` reading ``FILE: PATH: problem; fix``."""
    where = where or "(top level)"
    return QAInputError(f"{source}: {where}: {problem}; {fix}")


def read_json_file(path: str | Path) -> Any:
    """Read a UTF-8 JSON file, turning every way it can fail into one-line ``QAInputError``s."""
    p = Path(path)
    if not p.exists():
        raise QAInputError(f"{p}: no such file; check the path")
    if p.is_dir():
        raise QAInputError(f"{p}: is a directory, not a JSON file; give the path of the .json file")
    try:
        raw = read_regular(p)
    except NotARegularFile as exc:
        raise QAInputError(f"{p}: {exc.strerror}; give the path of a .json file") from None
    except OSError as exc:
        raise QAInputError(f"{p}: cannot be read ({exc.strerror or exc}); check its permissions") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise QAInputError(
            f"{p}: is not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "re-save the file with UTF-8 encoding"
        ) from exc
    if not text.strip():
        raise QAInputError(f"{p}: is empty; it must hold a JSON document")
    def no_duplicates(pairs):
        obj = {}
        for key, value in pairs:
            if key in obj:
                raise QAInputError(f"{p}: duplicate key {json.dumps(key)} in one object; keep only one")
            obj[key] = value
        return obj

    try:
        return json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        # json's own messages can end in "at" ("Unterminated string starting at"): say it once
        msg = exc.msg[:-3] if exc.msg.endswith(" at") else exc.msg
        raise QAInputError(
            f"{p}: is not valid JSON ({msg} at line {exc.lineno} column {exc.colno}); "
            "fix the syntax there"
        ) from exc
    except QAInputError:
        raise
    except RecursionError:
        raise QAInputError(f"{p}: JSON nested too deeply; give a flat list of inputs or a SQuAD document") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise QAInputError(f"{p}: is not usable JSON ({' '.join(str(exc).split())[:200]}); fix the value") from None


def type_name(value: Any) -> str:
    """JSON-ish name of a Python value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def a_type(value: Any) -> str:
    """``type_name`` with its article: "an array", "a string", "null"."""
    n = type_name(value)
    if n == "null":
        return n
    return ("an " if n[0] in "aeiou" else "a ") + n
