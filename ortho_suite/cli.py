"""``ortho-suite`` command line (also ``python -m ortho_suite``).

Every user error ends the same way: one line on stderr naming the problem and the fix, exit
status 2, no traceback, nothing written.
"""
from __future__ import annotations

import argparse
import sys

from .errors import UsageError

PROG = "ortho-suite"


class _OneLineParser(argparse.ArgumentParser):
    """argparse prints a usage block before its error; the suite promises a single line."""

    def error(self, message: str):  # noqa: D401 - argparse API
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _add_pretrain(sub) -> None:
    from .catalog import LAUNCHERS, RECIPE_CHOICES

    p = sub.add_parser("pretrain", help="self-supervised pretraining of one run",
                       description="Compose an mmengine config from the catalog and train it with "
                                   "the mmengine Runner. Writes checkpoints, config.py and "
                                   "summary.json under --work-dir.")
    p.add_argument("--method", required=True, help="SSL method (see 'ortho-suite list methods')")
    p.add_argument("--reg", default="none", help="encoder regularizer (default: none)")
    p.add_argument("--backbone", required=True, help="encoder backbone")
    p.add_argument("--dataset", required=True, help="pretraining dataset")
    p.add_argument("--data-root", default=None,
                   help="folder holding the dataset (default: the dataset's standard location)")
    p.add_argument("--aug", default=None,
                   help="augmentation recipe (default: the dataset's; see 'ortho-suite list')")
    p.add_argument("--work-dir", required=True, help="directory for checkpoints, logs and summary")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--epochs", type=int, default=None, help="override the schedule's epochs")
    p.add_argument("--recipe", default="paper", choices=RECIPE_CHOICES,
                   help="optimizer and learning-rate schedule: 'paper' (default), the papers' "
                        "recipe for the dataset and method (ortho_suite/configs/recipes/) where "
                        "there is one, else the suite's SGD + cosine; 'default': always the "
                        "suite's SGD + cosine. summary.json records the one used")
    p.add_argument("--cfg-options", nargs="+", default=None, metavar="KEY=VALUE",
                   help="override config entries, e.g. model.backbone.width=16")
    p.add_argument("--launcher", default="none", choices=LAUNCHERS,
                   help="'pytorch' (under torchrun) or 'slurm' (under srun): one DDP process per "
                        "worker (gloo without CUDA); the config's batch size is the global one")
    p.add_argument("--restart", action="store_true",
                   help="train from scratch even if --work-dir holds a run of this config, "
                        "unfinished (by default it is resumed from its last checkpoint) or "
                        "finished (by default it is left as it is)")
    p.add_argument("--retrain-finished", action="store_true",
                   help="train a finished run of this config again from scratch, but resume an "
                        "unfinished one (DVC stages pass it: DVC re-runs a stage only when its "
                        "code or settings changed)")
    p.add_argument("--replace-other-config", action="store_true",
                   help="discard a run of a different config found in --work-dir (by default "
                        "that is an error; DVC stages pass it)")


def _add_list(sub) -> None:
    from .catalog import CATALOG

    p = sub.add_parser("list", help="print the registered names",
                       description="Print the registered methods, regularizers, backbones, "
                                   "datasets and profiles with the source each follows.")
    p.add_argument("kind", nargs="?", choices=sorted(CATALOG), help="print only this kind")


def _add_evaluate(sub) -> None:
    from .catalog import TRANSFER_TARGETS

    p = sub.add_parser("evaluate", help="k-NN, linear probe and collapse spectra of a finished run",
                       description="Extract frozen features of a finished pretraining run once "
                                   "(cached), then write metrics.json, spectra.json and plots.")
    p.add_argument("--work-dir", required=True, help="the pretraining run's work dir")
    p.add_argument("--out", default=None, help="output folder (default: WORK_DIR/eval)")
    p.add_argument("--cache-dir", default=None, help="feature cache folder (default: --out)")
    p.add_argument("--protocol", default="or",
                   help="linear-probe protocol: or | intl_cifar (cached features) | imagenet "
                        "(augmented, ImageNet datasets)")
    p.add_argument("--probe-epochs", type=int, default=None,
                   help="shorten the probe (its schedule scales along); default: the protocol's")
    for split in ("train", "test"):
        p.add_argument(f"--{split}-images", type=_image_count, default=None, metavar="N|all",
                       help=f"the first N images of the {split} split for the frozen features "
                            "(k-NN, probe, spectra); default: all")
    p.add_argument("--transfer", default=None, metavar="NAME[,NAME...]",
                   help="also the transfer linear evaluation (kornblith_lbfgs probe, OR Table 6) "
                        f"on these targets: {', '.join(TRANSFER_TARGETS)}; "
                        "written to metrics.json under 'transfer' (default: none)")
    p.add_argument("--transfer-root", default=None, metavar="DIR",
                   help="with --transfer: the folder holding each target's data as its loader "
                        "reads it (food-101/, flowers-102/, dtd/, GTSRB/, cifar-10-batches-py/ or "
                        "its archive, ...); nothing is downloaded")


def _image_count(text: str) -> int | None:
    from .profiles import image_count

    try:
        return image_count(text)
    except UsageError as error:  # argparse names the option
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_compare(sub) -> None:
    p = sub.add_parser("compare-spectra", help="overlay the spectra of several evaluated runs",
                       description="One PNG per feature and per stage's last conv layer, with "
                                   "every run overlaid (the OR paper's Figures 3-4).")
    p.add_argument("--runs", nargs="+", required=True, metavar="LABEL=DIR",
                   help="label=folder: an evaluation folder (holding spectra.json) or a "
                        "pretraining work dir, whose evaluation is looked for in DIR/eval "
                        "(evaluate's default --out) and, for work_dirs/<profile>/<run>, in "
                        "results/<profile>/runs/<run> (the DVC pipeline's)")
    p.add_argument("--out", required=True, help="output folder for the PNGs")


def _add_summarize(sub) -> None:
    p = sub.add_parser("summarize", help="render a profile's pretraining runs into results/",
                       description="Read the runs listed in a DVC params file and write "
                                   "<out>/pretrain_summary.md and .json.")
    p.add_argument("--params", default="params.yaml", help="DVC params file (default: params.yaml)")
    p.add_argument("--runs-dir", required=True, help="directory holding one work dir per run")
    p.add_argument("--out", required=True, help="output directory, e.g. results/smoke")


def _add_tables(sub) -> None:
    p = sub.add_parser("tables", help="render the paper tables and the leaderboard of a profile",
                       description="Match every cell of benchmarks/tables/*.yaml to the evaluated "
                                   "runs of the active profile, give each a verdict and write "
                                   "<results>/tables/<table>.md|csv|json, <results>/leaderboard.md|"
                                   "json and the results index.")
    p.add_argument("--params", default="params.yaml", help="DVC params file (default: params.yaml)")
    p.add_argument("--benchmarks", default="benchmarks",
                   help="folder with tables/ and profiles/ (default: benchmarks)")
    p.add_argument("--results", required=True, help="the profile's results folder, e.g. results/smoke")
    p.add_argument("--index", default=None,
                   help="write the index of every profile here (e.g. results/README.md)")


def _add_profile(sub) -> None:
    from .catalog import PROFILES

    p = sub.add_parser("profile", help="make a profile the active one (rewrites params.yaml)",
                       description="Write params.yaml from benchmarks/profiles/<name>.yaml so that "
                                   "'dvc repro' trains that profile's runs.")
    p.add_argument("name", choices=sorted(PROFILES), help="profile name")
    p.add_argument("--params", default="params.yaml", help="params file to write")
    p.add_argument("--benchmarks", default="benchmarks", help="folder holding profiles/")


def _add_experiment(sub) -> None:
    from .catalog import EXPERIMENTS

    p = sub.add_parser("experiment", help="run one of the papers' small CPU experiments",
                       description="Run a small-scale experiment of the papers (DirectCLR's toy "
                                   "collapse, OR's Proposition 1, INTL's IterNorm mapping) and "
                                   "write its figure (PNG), data (JSON) and note (markdown).")
    p.add_argument("name", choices=EXPERIMENTS, help="experiment")
    p.add_argument("--out", required=True, help="output folder, e.g. results/smoke/figures/NAME")
    p.add_argument("--work-dir", default=None,
                   help="iternorm_mapping: also pretrain INTL on Fashion-MNIST here, with and "
                        "without the trace loss")


def _add_sweep(sub) -> None:
    p = sub.add_parser("sweep", help="train a profile's stale runs concurrently, then evaluate "
                                     "and render (DVC records every stage)",
                       description="Run the stale pretrain@<run> stages of the pipeline up to "
                                   "--jobs at a time, each through 'dvc repro -s' on its own "
                                   "devices (CUDA_VISIBLE_DEVICES), then their evaluations, "
                                   "then 'dvc repro' for the summary and tables. With --slurm, "
                                   "submit the stale runs as a Slurm job array instead.")
    p.add_argument("--jobs", type=int, default=None,
                   help="runs at once (default: one per device group; 1 without devices)")
    p.add_argument("--devices", default=None, metavar="IDS",
                   help="device ids to share out, e.g. 0,1,2,3 (default: CUDA_VISIBLE_DEVICES, "
                        "else the GPUs nvidia-smi lists, else the CPU)")
    p.add_argument("--gpus-per-run", type=int, default=1, metavar="K",
                   help="devices per run (K > 1: params.yaml's launch section must start K "
                        "processes); with --slurm, GPUs per array task (0: none)")
    p.add_argument("--dry-run", action="store_true", help="print what would run, run nothing")
    p.add_argument("--slurm", action="store_true",
                   help="submit one Slurm array task per stale run and a dependent job that "
                        "records, evaluates and renders")
    p.add_argument("--sbatch-args", default="", metavar="ARGS",
                   help="with --slurm: extra sbatch options for both jobs, e.g. "
                        "'--partition gpu --time 2-00:00:00'")
    p.add_argument("--max-running", type=int, default=None, metavar="M",
                   help="with --slurm: at most M array tasks at once")
    p.add_argument("--record-slurm", default=None, metavar="MANIFEST",
                   help="what the dependent job runs: record the array's finished runs "
                        "(dvc commit -f), then evaluate and render")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog=PROG, description="Reproducibility benchmark suite for "
                            "dimensional collapse in self-supervised learning.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    _add_pretrain(sub)
    _add_list(sub)
    _add_summarize(sub)
    _add_evaluate(sub)
    _add_compare(sub)
    _add_tables(sub)
    _add_profile(sub)
    _add_experiment(sub)
    _add_sweep(sub)
    return parser


def _cmd_list(args) -> int:
    from .catalog import ARCH_VARIANTS, CATALOG, CONFIGS_DIR, PLANNED

    kinds = [args.kind] if args.kind else list(CATALOG)
    for kind in kinds:
        print(f"{kind}:")
        entries = CATALOG[kind].values()
        planned = PLANNED.get(kind, {})
        width = max(len(name) for name in [*(e.name for e in entries), *planned])
        for e in entries:
            print(f"  {e.name:<{width}}  {e.summary}  [{e.source}]")
            for arch, variant in (ARCH_VARIANTS.get(e.name, {}) if kind == "methods" else {}).items():
                recipes = sorted(p.relative_to(CONFIGS_DIR).as_posix() for p in
                                 (CONFIGS_DIR / "recipes" / arch).glob(f"*/{e.name}.py"))
                print(f"  {'':<{width}}    on a {arch} backbone: {variant.summary}  "
                      f"[{variant.source}]; {variant.config}; {', '.join(recipes)}")
        for name, summary in planned.items():
            print(f"  {name:<{width}}  {summary}  [named by a paper table; not implemented yet]")
    return 0


def _cmd_pretrain(args) -> int:
    from mmengine.dist import is_main_process

    from .runs import SUMMARY_FILE, RunSpec
    from .train.pretrain import pretrain

    # Every RunSpec field is a pretrain option of the same name but ``variant`` (tables only).
    spec = RunSpec(**{name: getattr(args, name) for name in RunSpec.field_names()
                      if name != "variant"})
    summary = pretrain(spec, args.work_dir, launcher=args.launcher, data_root=args.data_root,
                       restart=args.restart, replace_other_config=args.replace_other_config,
                       retrain_finished=args.retrain_finished)
    if is_main_process():
        where = f"summary in {args.work_dir}/{SUMMARY_FILE}"
        if summary.get("already_finished"):
            print(f"{PROG}: already finished ({summary['status']}, {summary['iterations']} "
                  f"iterations); nothing trained; {where} (--restart trains it again)")
            return 0
        resumed = summary["resumed_from"]
        resumed = f" (resumed at epoch {resumed[-1]['epoch']})" if resumed else ""
        if summary["status"] == "diverged":
            # A result, not an error: the pipeline goes on and the tables mark the cell.
            print(f"{PROG}: diverged: non-finite loss at iteration "
                  f"{summary['diverged_at_iteration']}{resumed}, last finite loss "
                  f"{summary['loss_last_finite']}; {where}")
        else:
            print(f"{PROG}: finished: {summary['iterations']} iterations{resumed}, loss "
                  f"{summary['loss_first']:.4f} -> {summary['loss_last']:.4f}; {where}")
    return 0


def _cmd_summarize(args) -> int:
    from .profiles import load_params
    from .report.summarize import write_summary

    params = load_params(args.params)
    frame = write_summary(args.runs_dir, list(params["runs"]), args.out,
                                 params["profile"], params["profile_note"])
    done = int((frame["status"] == "finished").sum())
    print(f"{PROG}: {done}/{len(frame)} runs finished; wrote {args.out}/pretrain_summary.md")
    return 0


def _cmd_evaluate(args) -> int:
    from .evaluate.evaluate import evaluate_run

    result = evaluate_run(args.work_dir, args.out, args.cache_dir, args.protocol, args.probe_epochs,
                          args.train_images, args.test_images, transfer=args.transfer,
                          transfer_root=args.transfer_root or None)  # '': the pipeline's none
    if result["status"] == "diverged":
        print(f"{PROG}: not evaluated: pretraining diverged at iteration "
              f"{result['diverged_at_iteration']}; recorded in the metrics")
        return 0
    probe = result["linear_probe"]
    print(f"{PROG}: linear probe ({probe['protocol']}) top-1 {probe['top1']:.2f}%, "
          f"k-NN top-1 {result['knn_cosine_k200_top1']:.2f}% (cosine k=200), "
          f"{result['knn_euclidean_k5_top1']:.2f}% (5-NN), representation effective rank "
          f"{result['representation']['effective_rank']:.1f}")
    for name, record in result.get("transfer", {}).items():
        print(f"{PROG}: transfer {name} ({record['protocol']}) top-1 {record['top1']:.2f}% "
              f"({record['train']} train / {record['test']} test images, l2 {record['l2']:.3g})")
    return 0


def _cmd_compare(args) -> int:
    from .report.overlays import compare_spectra

    runs = {}
    for item in args.runs:
        label, sep, folder = item.partition("=")
        if not sep or not label or not folder:
            raise UsageError(f"malformed --runs entry {item!r}; expected label=folder")
        runs[label] = folder
    written = compare_spectra(runs, args.out)
    print(f"{PROG}: wrote {len(written)} figures to {args.out}")
    return 0


def _cmd_tables(args) -> int:
    from .report.tables import render_profile

    score = render_profile(args.params, args.benchmarks, args.results, args.index)
    t = score["total"]
    print(f"{PROG}: {len(score['tables'])} tables in {args.results}/tables; {t['within']} of "
          f"{t['compared_cells']} published cells with a conclusive verdict within tolerance "
          f"({t.get('inconclusive', 0)} inconclusive, {t['published_cells']} published); "
          f"leaderboard in {args.results}/leaderboard.md")
    return 0


def _cmd_profile(args) -> int:
    from .profiles import write_params

    params = write_params(args.name, args.params, f"{args.benchmarks}/profiles")
    print(f"{PROG}: {args.params} now holds profile {args.name!r} ({len(params['runs'])} runs); "
          f"run 'dvc repro'")
    return 0


def _cmd_experiment(args) -> int:
    from .experiments import run_experiment

    written = run_experiment(args.name, args.out, args.work_dir)
    print(f"{PROG}: {args.name}: wrote {', '.join(str(p) for p in written)}")
    return 0


def _cmd_sweep(args) -> int:
    from pathlib import Path

    from . import sweep

    root = Path.cwd()
    devices = None if args.devices is None else sweep.parse_devices(args.devices)
    if args.record_slurm:
        return sweep.record_slurm(root, Path(args.record_slurm), args.jobs, devices)
    if args.slurm:
        return sweep.submit_slurm(root, args.gpus_per_run, args.jobs, args.sbatch_args,
                                  args.max_running, args.dry_run)
    return sweep.sweep(root, args.jobs, devices, args.gpus_per_run, args.dry_run)


COMMANDS = {"pretrain": _cmd_pretrain, "list": _cmd_list, "summarize": _cmd_summarize,
            "evaluate": _cmd_evaluate, "compare-spectra": _cmd_compare,
            "tables": _cmd_tables, "profile": _cmd_profile, "experiment": _cmd_experiment,
            "sweep": _cmd_sweep}


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        # Every result file is written atomically and a cut checkpoint is skipped on resume.
        print(f"{PROG}: interrupted; re-run the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
