"""Progress bars on stderr that never share a line with the output that follows them."""
from __future__ import annotations

import sys


def progress(iterable, **kwargs):
    """tqdm on stderr. On a terminal the bar erases itself when done; when stderr is a file or a pipe (often the
    same one as stdout) the bar ends with a newline instead, so the next printed line starts a line of its own."""
    from tqdm import tqdm

    stream = sys.stderr
    tty = bool(getattr(stream, "isatty", lambda: False)())
    return tqdm(iterable, file=stream, leave=not tty, **kwargs)
