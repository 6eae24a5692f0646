"""User-facing errors: one clear line, exit code 2, never a traceback."""


class UserError(Exception):
    """Bad input from the user (arguments, files, models). The CLI prints `error: <message>` and exits 2."""

    exit_code = 2


class ScheduleError(UserError):
    """A device or schedule file is malformed or asks for something illegal."""


class LegalityError(ScheduleError):
    """A derived program config or placement breaks a device rule.

    The message names the op, the rule, the numbers and the schedule key to change.
    """

    def __init__(self, op: str, rule: str, detail: str, key: str):
        self.op, self.rule, self.detail, self.key = op, rule, detail, key
        super().__init__(f"{op}: {rule} violated ({detail}); change schedule key '{key}'")


class TraceError(UserError):
    """The model could not be traced or is not a BERT we understand."""


# --- helpers for messages and input files -------------------------------------------------------------------

import os as _os
import reprlib as _reprlib
import stat as _stat

# A value quoted in a message is cut while it is formatted (a YAML alias bomb expands to 10^9 items).
class _Repr(_reprlib.Repr):
    def repr_int(self, x, level):   # repr() refuses ints over 4300 digits (sys.int_info.str_digits_check_threshold)
        if x.bit_length() > 4000:
            return f"<an integer of about {int(x.bit_length() * 0.30103)} digits>"
        return super().repr_int(x, level)


_SHORT = _Repr()   # keyword arguments need Python 3.12
_SHORT.maxlevel, _SHORT.maxdict, _SHORT.maxlist, _SHORT.maxtuple, _SHORT.maxset = 3, 4, 6, 6, 4
_SHORT.maxstring, _SHORT.maxlong, _SHORT.maxother = 60, 40, 60


def short(value, limit: int = 100) -> str:
    """repr() of a value for an error message, bounded in work and length however large the value is."""
    text = _SHORT.repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


class NotARegularFile(OSError):
    """A FIFO, socket, device or directory where a file is expected: reading it could block forever."""

    def __init__(self, path, kind: str):
        super().__init__(f"{path} is {kind}, not a regular file")
        self.strerror = f"it is {kind}, not a regular file"


def _kind(mode: int) -> str:
    for test, name in ((_stat.S_ISDIR, "a directory"), (_stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (_stat.S_ISSOCK, "a socket"), (_stat.S_ISCHR, "a character device"),
                       (_stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a plain file"


def read_regular(path) -> bytes:
    """The bytes of a regular file. Opened non-blocking and checked with fstat before any read, so a FIFO or a
    device given as an input file is refused (NotARegularFile, an OSError) instead of blocking the process."""
    fd = _os.open(path, _os.O_RDONLY | getattr(_os, "O_NONBLOCK", 0))
    try:
        mode = _os.fstat(fd).st_mode
        if not _stat.S_ISREG(mode):
            raise NotARegularFile(path, _kind(mode))
        _os.set_blocking(fd, True)
        f = _os.fdopen(fd, "rb")
    except BaseException:
        _os.close(fd)
        raise
    with f:
        return f.read()
