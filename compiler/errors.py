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
