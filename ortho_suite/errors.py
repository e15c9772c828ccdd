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


def read_yaml(path, what: str = "file", missing_hint: str = "check the path"):
    """The parsed content of the YAML file ``path``; a missing or unparseable file is a
    UsageError naming the file (and the line of a syntax error). The one reader of every YAML
    file a user writes: params, profiles, table definitions."""
    from pathlib import Path

    import yaml

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{what} {path} not found; {missing_hint}")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"{path}: not valid YAML{where}; fix the syntax") from None
