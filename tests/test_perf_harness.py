"""The performance harness (benchmarks/perf/) runs and reports what it claims. Nothing here times
anything: each benchmark runs at a toy size and its JSON is checked for structure and internal
consistency, so a broken benchmark shows on CI rather than in a scarce GPU session."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

PERF = Path(__file__).resolve().parents[1] / "benchmarks" / "perf"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"perf_{name}", PERF / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


run_all = _script("run_all")
PRESET_CASES = [(device, name, script, args) for device, preset in run_all.PRESETS.items()
                for name, (script, args) in preset.items()]


@pytest.mark.parametrize("device,name,script,args", PRESET_CASES,
                         ids=[f"{d}-{n}" for d, n, _, _ in PRESET_CASES])
def test_every_preset_is_accepted_by_its_benchmark(device, name, script, args):
    """The GPU preset runs only where a GPU is lent: a typo there would cost that session."""
    parser = _script(script).build_parser()
    extra = ["--lightly"] if script == "train_throughput" else []  # added when lightly imports
    parsed = parser.parse_args([*args, *extra, "--out", "x.json"])
    assert parsed.out == "x.json"


def _run(script: str, args: list[str], tmp_path) -> dict:
    out = tmp_path / f"{script}.json"
    assert _script(script).main([*args, "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["date"] and report["hardware"]["cpu_count"] >= 1 and report["git_commit"]
    assert run_all.headline(out)  # the summary table can show it
    return report


def test_train_throughput_reports_consistent_ratios_and_overheads(tmp_path):
    report = _run("train_throughput", ["--width", "4", "--batch", "8", "--warmup", "1",
                                       "--iters", "2", "--rounds", "1", "--workers", "0"], tmp_path)
    median = report["images_per_s_median"]
    assert set(median) == {f"{m}/fp32/{c}" for m in ("simclr", "byol") for c in ("suite", "hand")}
    assert all(v > 0 for v in median.values())
    for method in ("simclr", "byol"):
        suite, hand = median[f"{method}/fp32/suite"], median[f"{method}/fp32/hand"]
        # The JSON keeps 1 decimal of images/s (3 of ratios, 2 of milliseconds): what follows
        # from the kept medians lies between the values at either end of their rounding.
        ends = [(s, h) for s in (suite - 0.05, suite + 0.05) for h in (hand - 0.05, hand + 0.05)]
        ratio = report["ratios"][f"{method}/fp32: suite / hand"]
        assert min(s / h for s, h in ends) - 1e-3 <= ratio <= max(s / h for s, h in ends) + 1e-3
        overhead = [1000 * 8 * (1 / s - 1 / h) for s, h in ends]  # ms per step of 8 images
        reported = report["suite_step_overhead_ms"][f"{method}/fp32"]
        assert min(overhead) - 0.01 <= reported <= max(overhead) + 0.01
        check = report["same_network_check"][method]
        assert check["suite_trainable_parameters"] == check["hand_trainable_parameters"]


def test_or_overhead_reports_every_regularizer(tmp_path):
    report = _run("or_overhead", ["--width", "4", "--batch", "8", "--reps", "1"], tmp_path)
    assert set(report["step_time_s_median"]) == {"none", "so", "srip"}
    assert report["regularized_layers"] == 20  # every conv and linear weight of ResNet-18
    for reg in ("so", "srip"):
        expected = report["step_time_s_median"][reg] / report["step_time_s_median"]["none"] - 1
        assert report["step_overhead_vs_none"][reg] == pytest.approx(expected)


def test_eval_times_covers_knn_probes_and_extraction(tmp_path):
    report = _run("eval_times", ["--train", "256", "--test", "64", "--dim", "8",
                                 "--extract", "16", "--width", "4"], tmp_path)
    assert set(report["seconds"]) == {"knn_cosine_k200_s", "knn_euclidean_k5_s",
                                      "probe_or_100ep_s", "probe_intl_cifar_500ep_s"}
    assert all(v >= 0 for v in report["seconds"].values())  # toy sizes round to 0.000 s
    assert report["extraction"]["images"] == 16 and report["extraction"]["images_per_s"] > 0


def test_loader_throughput_compares_with_the_labelled_pipeline(tmp_path):
    report = _run("loader_throughput", ["--batch", "16", "--workers", "0", "--warmup", "1",
                                        "--iters", "2", "--rounds", "1"], tmp_path)
    assert set(report["images_per_s_median"]) == {"loader", "loader + to device",
                                                  "loader, with labels", "device-resident batches"}
    assert all(v > 0 for v in report["images_per_s_median"].values())


def test_framework_overhead_counts_the_ops_of_a_quiet_step_of_both_loops(tmp_path):
    report = _run("framework_overhead", ["--batch", "8", "--warmup", "2", "--iters", "2",
                                         "--rounds", "1"], tmp_path)
    assert set(report["methods"]) == {"simclr", "byol"}
    for m in report["methods"].values():
        ms, ops = m["ms_per_step_median"], m["ops_per_step"]
        assert ms["suite"] > 0 and ms["hand"] > 0
        assert m["suite_minus_hand_ms"] == pytest.approx(ms["suite"] - ms["hand"], abs=0.011)
        for loop in ("suite", "hand"):
            # a whole step was profiled: many ops, kernel-launching ones a subset of the leaves
            assert 100 < ops[loop]["kernel_ops"] <= ops[loop]["leaf_aten_ops"]
        assert ops["suite"]["sync_ops"] == 0  # the profiled step does not log: no host read
