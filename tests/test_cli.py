"""The command line: catalog listing, and the exit-2 contract from a real process."""
from __future__ import annotations

from ortho_suite import catalog
from ortho_suite.cli import main

from .conftest import run_cli

GOOD = dict(method="simclr", reg="none", backbone="resnet18_cifar", dataset="synthetic")


def _pretrain_args(work_dir, **overrides) -> list[str]:
    values = {**GOOD, **overrides}
    return ["pretrain", "--method", values["method"], "--reg", values["reg"],
            "--backbone", values["backbone"], "--dataset", values["dataset"],
            "--work-dir", str(work_dir)]


def test_unknown_method_from_a_real_process_has_no_traceback(tmp_path):
    """The issue's acceptance check, through the real entry point in a fresh interpreter."""
    proc = run_cli(*_pretrain_args(tmp_path / "run", method="nosuch"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert lines[0] == ("ortho-suite: error: unknown method 'nosuch'; valid methods: "
                        + ", ".join(sorted(catalog.METHODS)))
    assert not (tmp_path / "run").exists()


# Every other bad input: tests/test_bad_input.py (one table).


def test_list_prints_every_registered_name(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for kind, table in catalog.CATALOG.items():
        assert f"{kind}:" in out
        for entry in table.values():
            assert entry.name in out and entry.source in out


def test_list_one_kind(capsys):
    assert main(["list", "methods"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("methods:") and "backbones:" not in out


def test_every_config_backed_entry_has_its_fragment():
    for table in catalog.CATALOG.values():
        for entry in table.values():
            if entry.config is not None:
                assert catalog.config_path(entry).is_file(), entry
