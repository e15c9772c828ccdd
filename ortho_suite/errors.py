"""User-facing errors.

A :class:`UsageError` is raised for anything the user can fix (an unknown name, a malformed
option, missing data). The command line turns it into one line on stderr and exit status 2,
never a traceback.
"""


class UsageError(Exception):
    """Bad input: the message says what is wrong and how to fix it, on one line."""

    exit_code = 2


def unknown_name(kind: str, value: str, valid) -> UsageError:
    """The error for a name that is not registered, listing the valid ones."""
    return UsageError(f"unknown {kind} {value!r}; valid {kind}s: {', '.join(sorted(valid))}")


class DataError(UsageError):
    """Missing, corrupt or incomplete dataset files (the message names the path and the fix)."""
