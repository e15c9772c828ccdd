"""Crash and divergence: a run killed with SIGKILL resumes from its last checkpoint and ends
bitwise where an uninterrupted run ends; a non-finite loss stops a run as ``diverged`` and the
rest of the pipeline (evaluation, summary, tables) goes on."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ortho_suite import runs
from ortho_suite.cli import main
from ortho_suite.errors import UsageError
from ortho_suite.report import summarize
from ortho_suite.report.tables import render_profile
from ortho_suite.report.verdicts import DIVERGED
from ortho_suite.runs import CONFIG_FILE, SUMMARY_FILE, RunSpec
from ortho_suite.train import compose, resume

from .conftest import REPO, TINY_OPTIONS
from .test_tables import _toy_project

# BYOL: its EMA target network and momentum schedule must resume too. 128 images in batches of
# 16: 8 iterations per epoch, 3 epochs; the online monitor runs after each epoch.
RESUME_OPTIONS = [*TINY_OPTIONS, "train_dataloader.dataset.num_samples=128",
                  "train_dataloader.num_workers=0", "train_dataloader.persistent_workers=False"]


def _pretrain_cmd(work_dir) -> list[str]:
    return [sys.executable, "-m", "ortho_suite", "pretrain", "--method", "byol",
            "--backbone", "resnet18_cifar", "--dataset", "synthetic", "--work-dir", str(work_dir),
            "--epochs", "3", "--cfg-options", *RESUME_OPTIONS]


def _env() -> dict:
    return dict(os.environ, PYTHONWARNINGS="ignore")


def test_sigkill_after_the_first_checkpoint_resumes_to_the_uninterrupted_result(tmp_path):
    full, killed = tmp_path / "full", tmp_path / "killed"
    proc = subprocess.run(_pretrain_cmd(full), cwd=REPO, env=_env(), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]

    run = subprocess.Popen(_pretrain_cmd(killed), cwd=REPO, env=_env(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    # mmengine writes `last_checkpoint` after the checkpoint file is complete
    while not (killed / "last_checkpoint").exists() and run.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    run.send_signal(signal.SIGKILL)
    assert run.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    assert (killed / "epoch_1.pth").is_file() and not (killed / "epoch_3.pth").exists()
    assert not (killed / SUMMARY_FILE).exists()
    assert (killed / runs.LOCK_FILE).is_file() and runs.lock_holder(killed) is None  # died with it

    proc = subprocess.run(_pretrain_cmd(killed), cwd=REPO, env=_env(), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "finished: 24 iterations (resumed at epoch 1)" in proc.stdout
    a = json.loads((full / SUMMARY_FILE).read_text())
    b = json.loads((killed / SUMMARY_FILE).read_text())
    assert b["resumed_from"] == [{"epoch": 1, "iteration": 8}] and a["resumed_from"] == []
    assert b["train_log"] == a["train_log"]  # every loss of every iteration, bitwise
    assert b["monitor"] == a["monitor"] and len(a["monitor"]) == 3
    wa = torch.load(full / "epoch_3.pth", map_location="cpu", weights_only=False)["state_dict"]
    wb = torch.load(killed / "epoch_3.pth", map_location="cpu", weights_only=False)["state_dict"]
    assert wa.keys() == wb.keys() and any(k.startswith("target_net") for k in wa)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def _config(tmp_path, width=8):
    return compose.compose_config(RunSpec("simclr", "resnet18_cifar", "synthetic", cfg_options=[f"model.backbone.width={width}"]), tmp_path / "run")


def _leave_run(cfg, epochs=(1, 2), finished=False):
    """A work dir as a run of ``cfg`` leaves it: config.py, checkpoints, maybe the summary."""
    work_dir = Path(cfg.work_dir)
    work_dir.mkdir(parents=True)
    cfg.dump(str(work_dir / CONFIG_FILE))
    for epoch in epochs:
        torch.save({"meta": {"epoch": epoch}}, work_dir / f"epoch_{epoch}.pth")
    if finished:
        (work_dir / SUMMARY_FILE).write_text("{}")
    return work_dir


def test_resume_picks_the_newest_complete_checkpoint(tmp_path):
    cfg = _config(tmp_path)
    work_dir = _leave_run(cfg)
    assert resume.plan_resume(cfg) == resume.ResumePlan(work_dir / "epoch_2.pth")
    # killed while writing epoch 3: a truncated file is skipped (and named), epoch 2 is still there
    data = (work_dir / "epoch_2.pth").read_bytes()
    (work_dir / "epoch_3.pth").write_bytes(data[: len(data) // 2])
    assert resume.plan_resume(cfg) == resume.ResumePlan(work_dir / "epoch_2.pth", ("epoch_3.pth",))
    assert resume.plan_resume(cfg, restart=True) == resume.ResumePlan()


def test_a_finished_run_is_left_alone_and_another_config_needs_consent(tmp_path):
    cfg = _config(tmp_path)
    _leave_run(cfg, finished=True)
    assert resume.plan_resume(cfg) == resume.ResumePlan(finished=True)
    assert resume.plan_resume(cfg, restart=True) == resume.ResumePlan()  # trained again
    assert resume.plan_resume(cfg, retrain_finished=True) == resume.ResumePlan()  # DVC's stages
    other = _config(tmp_path, width=16)
    with pytest.raises(UsageError, match="holds a run of another config"):
        resume.plan_resume(other)
    assert resume.plan_resume(other, replace_other_config=True) == resume.ResumePlan()
    shutil.rmtree(cfg.work_dir)
    work_dir = _leave_run(cfg)  # unfinished: replacing another config's run never resumes it
    assert resume.plan_resume(other, replace_other_config=True) == resume.ResumePlan()
    # ...but DVC's flags resume an unfinished run of the same config
    assert resume.plan_resume(cfg, replace_other_config=True, retrain_finished=True) == \
        resume.ResumePlan(work_dir / "epoch_2.pth")


def test_a_run_left_by_an_older_layout_is_another_config_not_a_crash(tmp_path):
    """A work dir from before the stage packages: its config.py imports ortho_suite.engine,
    which no longer exists. Reading it for the resume check must not import it."""
    cfg = _config(tmp_path)
    work_dir = _leave_run(cfg)
    old = (work_dir / CONFIG_FILE).read_text().replace("'ortho_suite.train'", "'ortho_suite.engine'")
    assert "ortho_suite.engine" in old
    (work_dir / CONFIG_FILE).write_text(old)
    with pytest.raises(UsageError, match="holds a run of another config"):
        resume.plan_resume(cfg)
    assert resume.plan_resume(cfg, replace_other_config=True) == resume.ResumePlan()


def test_nan_loss_stops_the_run_as_diverged_and_the_pipeline_goes_on(tmp_path, capsys):
    """lr = 1e30 makes the second loss NaN. pretrain and evaluate still exit 0 (a diverged run
    is a result), the summary and metrics record where, and the tables mark the cell."""
    params, bench, results = _toy_project(tmp_path)
    runs_dir = tmp_path / "work_dirs"
    work_dir = runs_dir / "simclr_so_s0"
    code = main(["pretrain", "--method", "simclr", "--reg", "so", "--backbone", "resnet18_cifar",
                 "--dataset", "synthetic", "--work-dir", str(work_dir), "--epochs", "2",
                 "--cfg-options", *TINY_OPTIONS, "optim_wrapper.optimizer.lr=1e30"])
    out = capsys.readouterr().out
    assert code == 0 and "diverged: non-finite loss at iteration 2" in out
    summary = json.loads((work_dir / SUMMARY_FILE).read_text())
    assert summary["status"] == "diverged" and summary["diverged_at_iteration"] == 2
    assert summary["iterations"] == 2  # stopped at once, not trained to the end on NaN weights
    assert summary["loss_last_finite"] == summary["train_log"][0]["loss"] > 0
    assert not list(work_dir.glob("epoch_*.pth"))

    run_results = results / "runs" / "simclr_so_s0"
    shutil.rmtree(run_results)
    assert main(["evaluate", "--work-dir", str(work_dir), "--out", str(run_results)]) == 0
    metrics = json.loads((run_results / "metrics.json").read_text())
    assert metrics["status"] == "diverged" and metrics["diverged_at_iteration"] == 2
    assert metrics["loss_last_finite"] == summary["loss_last_finite"]
    assert (run_results / "spectra.json").is_file() and (run_results / "plots").is_dir()

    summarize.write_summary(runs_dir, ["simclr_so_s0"], results, "smoke", "toy")
    render_profile(params, bench, results)
    table = json.loads((results / "tables" / "toy.json").read_text())
    cell = next(c for c in table["cells"] if (c["row"], c["column"]) == ("simclr", "so"))
    assert cell["verdict"] == DIVERGED
    assert "diverged" in (results / "leaderboard.md").read_text()


def test_an_interrupted_render_leaves_every_previous_file_whole(tmp_path, monkeypatch):
    """Killed between writing a table's temporary file and renaming it, a render leaves the
    previous table in place, byte for byte, and no temporary file behind."""
    params, bench, results = _toy_project(tmp_path)
    render_profile(params, bench, results)
    before = {p: p.read_bytes() for p in results.rglob("*") if p.is_file()}
    (results / "runs" / "simclr_so_s0" / "metrics.json").unlink()  # the next render differs

    real_replace = os.replace

    def interrupted(src, dst):
        if str(dst).endswith(".md"):
            raise KeyboardInterrupt  # as a kill would, after the temporary file was written
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        render_profile(params, bench, results)
    monkeypatch.setattr(os, "replace", real_replace)
    md = [p for p in before if p.suffix == ".md"]
    assert md and all(p.read_bytes() == before[p] for p in md)
    assert not [p for p in results.rglob("*.tmp")]
    assert json.loads((results / "tables" / "toy.json").read_text())["table"] == "toy"
