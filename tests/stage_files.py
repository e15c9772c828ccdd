"""Run one ``ortho-suite`` command in this (fresh) interpreter and record every file of the
``ortho_suite`` package it used: each module it imported and each file it opened (config
fragments, class lists). Used by tests/test_pipeline.py to prove the DVC stages' deps complete.

    python -m tests.stage_files OUT.json SETUP -- ortho-suite ARGS...

SETUP is Python run first (e.g. to shrink an experiment to test size; '' for none).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ortho_suite"


def main() -> int:
    out, setup, separator, program, *argv = sys.argv[1:]
    assert separator == "--" and program == "ortho-suite", sys.argv
    opened: set[str] = set()

    def audit(event: str, args) -> None:
        if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            opened.add(os.path.abspath(os.fsdecode(args[0])))

    sys.addaudithook(audit)
    exec(setup, {})  # noqa: S102 - test-size settings written by the test itself
    from ortho_suite.cli import main as cli

    code = cli(argv)
    used = {os.path.abspath(m.__file__) for m in list(sys.modules.values())
            if getattr(m, "__file__", None)} | opened
    files = sorted(str(Path(f).relative_to(PACKAGE.parent)) for f in used
                   if Path(f).is_file() and PACKAGE in Path(f).parents
                   and "__pycache__" not in Path(f).parts)
    Path(out).write_text(json.dumps({"exit": code, "files": files}))
    return code


if __name__ == "__main__":
    sys.exit(main())
