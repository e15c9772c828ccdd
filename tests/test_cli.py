"""The command line: catalog listing and the one-line, exit-2 contract for bad input."""
from __future__ import annotations

import pytest

from ortho_suite import catalog
from ortho_suite.cli import main

from .conftest import run_cli

GOOD = dict(method="simclr", reg="none", backbone="resnet18_cifar", dataset="synthetic")


def _pretrain_args(work_dir, **overrides) -> list[str]:
    values = {**GOOD, **overrides}
    return ["pretrain", "--method", values["method"], "--reg", values["reg"],
            "--backbone", values["backbone"], "--dataset", values["dataset"],
            "--work-dir", str(work_dir)]


@pytest.mark.parametrize("field,kind", [("method", "methods"), ("reg", "regularizers"),
                                        ("backbone", "backbones"), ("dataset", "datasets")])
def test_unknown_name_is_one_line_listing_valid_names_exit_2(tmp_path, capsys, field, kind):
    work_dir = tmp_path / "run"
    code = main(_pretrain_args(work_dir, **{field: "nosuch"}))
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1, err
    assert "'nosuch'" in err
    for name in catalog.CATALOG[kind]:
        assert name in err
    assert not work_dir.exists(), "bad input must not write anything"


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


@pytest.mark.parametrize("options,fragment", [
    (["model.backbone.width"], "malformed --cfg-options entry"),
    (["modle.backbone.width=8"], "'modle' is not in the composed config"),
    (["model.backbone.depth.x=1"], "is a value, not a section"),
])
def test_bad_cfg_options_exit_2(tmp_path, capsys, options, fragment):
    code = main(_pretrain_args(tmp_path / "run") + ["--cfg-options", *options])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and fragment in err, err
    assert not (tmp_path / "run").exists()


def test_missing_required_argument_is_one_line(capsys):
    assert main(["pretrain", "--method", "simclr"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--backbone" in err and "--work-dir" in err


def test_nonpositive_epochs_rejected(tmp_path, capsys):
    assert main(_pretrain_args(tmp_path / "run") + ["--epochs", "0"]) == 2
    assert "--epochs must be >= 1" in capsys.readouterr().err


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
