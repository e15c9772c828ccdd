"""Wall time of one smoke-profile stage pair (``ortho-suite pretrain`` then ``ortho-suite
evaluate``, each its own process, as DVC runs them) under two settings side by side: the run of
params.yaml as it is, and the same run with ``--cfg-options`` overrides (default: weights and
views in contiguous memory layout instead of channels-last). Rounds alternate the order of the
two settings. Also the wall time of one ``dvc repro -f -s or_proposition1`` against its command
alone (DVC's own cost per stage).

    uv run python benchmarks/perf/smoke_stage_cost.py --rounds 2 --out results/perf/smoke_stage_cost_cpu.json
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import yaml

from ortho_suite import provenance

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _timed(cmd: list[str], log: Path) -> float:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # DVC's stage
    start = time.perf_counter()
    with open(log, "w") as out:
        subprocess.run(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, check=True)
    return time.perf_counter() - start


def stage_pair(run: dict, extra: list[str], eval_cfg: dict, work: Path) -> dict:
    """Pretrain and evaluate ``run`` (a params.yaml entry) with ``extra`` cfg options appended;
    the wall time of each process and the run's final loss."""
    shutil.rmtree(work, ignore_errors=True)
    pretrain = [str(BIN / "ortho-suite"), "pretrain", "--method", run["method"], "--reg", run["reg"],
                "--backbone", run["backbone"], "--dataset", run["dataset"], "--aug", run["aug"],
                "--seed", str(run["seed"]), "--epochs", str(run["epochs"]),
                "--recipe", run.get("recipe", "paper"), "--work-dir", str(work),
                "--cfg-options", *run["cfg_options"].split(), *extra]
    evaluate = [str(BIN / "ortho-suite"), "evaluate", "--work-dir", str(work),
                "--out", str(work / "eval"), "--cache-dir", str(work) + ".features",
                "--protocol", eval_cfg["protocol"], "--probe-epochs", str(eval_cfg["probe_epochs"]),
                "--train-images", str(eval_cfg["train_images"]),
                "--test-images", str(eval_cfg["test_images"])]
    shutil.rmtree(str(work) + ".features", ignore_errors=True)
    pretrain_s = _timed(pretrain, work.parent / f"{work.name}.pretrain.log")
    evaluate_s = _timed(evaluate, work.parent / f"{work.name}.evaluate.log")
    summary = json.loads((work / "summary.json").read_text())
    metrics = json.loads((work / "eval" / "metrics.json").read_text())
    return {"pretrain_s": round(pretrain_s, 2), "evaluate_s": round(evaluate_s, 2),
            "loss_first": summary["loss_first"], "loss_last": summary["loss_last"],
            "knn_top1": metrics.get("knn_top1")}


def dvc_cost(tmp: Path) -> dict:
    """``dvc repro -f -s or_proposition1`` against its command alone (10 s of CPU work)."""
    out = tmp / "or_proposition1"
    alone = _timed([str(BIN / "ortho-suite"), "experiment", "or_proposition1", "--out", str(out)],
                   tmp / "or_proposition1.log")
    with_dvc = _timed([str(BIN / "dvc"), "--wait-for-lock", "repro", "-f", "-s", "or_proposition1"],
                      tmp / "or_proposition1.dvc.log")
    return {"command_alone_s": round(alone, 2), "dvc_repro_s": round(with_dvc, 2),
            "dvc_overhead_s": round(with_dvc - alone, 2)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="simclr_none_resnet18w8_fmnist")
    parser.add_argument("--other", default="speed.channels_last=False",
                        help="cfg options of the second setting (space-separated)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--dvc", action="store_true",
                        help="also time DVC's cost per stage (re-runs or_proposition1 in this "
                             "checkout: its outputs in results/ are rewritten)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    run, eval_cfg = params["runs"][args.run], params["eval"]
    settings = {"params.yaml": [], args.other: args.other.split()}
    samples: dict[str, list[dict]] = {name: [] for name in settings}
    with tempfile.TemporaryDirectory(prefix="smoke_stage_cost_") as tmp:
        for r in range(args.rounds):
            order = list(settings) if r % 2 == 0 else list(settings)[::-1]
            for i, name in enumerate(order):
                sample = stage_pair(run, settings[name], eval_cfg, Path(tmp) / f"run{r}_{i}")
                samples[name].append(sample)
                print(f"round {r + 1} {name:<28} pretrain {sample['pretrain_s']:6.1f} s  "
                      f"evaluate {sample['evaluate_s']:6.1f} s  loss {sample['loss_first']:.4f} "
                      f"-> {sample['loss_last']:.4f}", flush=True)
        dvc = dvc_cost(Path(tmp)) if args.dvc else None
    if dvc:
        print(f"dvc repro -s or_proposition1 {dvc['dvc_repro_s']:.1f} s, its command alone "
              f"{dvc['command_alone_s']:.1f} s: {dvc['dvc_overhead_s']:.1f} s per stage")
    report = {"benchmark": "smoke_stage_cost",
              "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "run": args.run,
              "settings": {name: shlex.join(opts) or "as in params.yaml"
                           for name, opts in settings.items()},
              "samples": samples, "dvc": dvc,
              "hardware": provenance.hardware(), "git_commit": provenance.git_commit(ROOT)}
    if args.out:
        provenance.atomic_write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
