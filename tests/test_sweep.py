"""``ortho-suite sweep``: a profile's runs trained concurrently, DVC still the record.

Each test builds a project in a temporary folder: this checkout's package, benchmarks and the
pretrain / evaluate / summarize / tables stages of its dvc.yaml (verbatim; the papers' small
experiments are left out, they do not touch runs and take minutes), with a params.yaml of tiny
runs on synthetic images. ``launch.prefix`` puts a recorder in front of every training process:
it notes the process's CUDA_VISIBLE_DEVICES, pid and start/end times, so that the device
sharing is checked from the trainings themselves, not from what the sweep says it did.
"""
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
import yaml

from ortho_suite import sweep
from ortho_suite.errors import UsageError

from .conftest import REPO, TINY_OPTIONS

BIN = Path(sys.executable).parent
DVC = str(BIN / "dvc")
# Four run ids of the smoke profile (the tables stage accepts only a profile's run ids), each a
# two-epoch run of four iterations per epoch on synthetic images.
RUN_IDS = ("simclr_none_resnet18w8_fmnist", "simclr_so_resnet18w8_fmnist",
           "byol_none_resnet18w8_fmnist", "byol_so_resnet18w8_fmnist")
RECORDER = '''import json, os, subprocess, sys, time
start = time.time()
proc = subprocess.Popen(sys.argv[1:])
line = {"work_dir": sys.argv[sys.argv.index("--work-dir") + 1], "pid": proc.pid,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"), "start": start}
with open("device_record.jsonl", "a") as f:
    f.write(json.dumps(line) + "\\n")
code = proc.wait()
with open("device_record.jsonl", "a") as f:
    f.write(json.dumps({**line, "end": time.time(), "exit": code}) + "\\n")
sys.exit(code)
'''


def _run(run_id: str, epochs: int = 2) -> dict:
    method, reg = run_id.split("_")[:2]
    # TINY_OPTIONS at 32 images: two iterations per epoch
    options = [o.replace("num_samples=64", "num_samples=32") for o in TINY_OPTIONS
               if not o.startswith("default_hooks")]
    if method == "byol":
        options.append("model.head.predictor.hid_channels=64")
    return {"method": method, "reg": reg, "backbone": "resnet18_cifar", "dataset": "synthetic",
            "aug": "solo_cifar_symmetric", "seed": 0, "epochs": epochs,
            "cfg_options": " ".join(options), "recipe": "paper"}


def make_project(root: Path, run_ids=RUN_IDS) -> Path:
    """A DVC project in ``root`` (git + dvc) with tiny runs; nothing run yet."""
    root.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "ortho_suite", root / "ortho_suite", ignore=ignore)
    shutil.copytree(REPO / "benchmarks", root / "benchmarks", ignore=ignore)
    (root / ".dvcignore").write_text((REPO / ".dvcignore").read_text())
    (root / ".gitignore").write_text("/work_dirs/\n__pycache__/\n")
    pipeline = yaml.safe_load((REPO / "dvc.yaml").read_text())
    keep = ("pretrain", "evaluate", "summarize", "tables")
    pipeline["stages"] = {k: v for k, v in pipeline["stages"].items() if k in keep}
    pipeline.pop("plots", None)
    (root / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    (root / "record_devices.py").write_text(RECORDER)
    base = yaml.safe_load((REPO / "params.yaml").read_text())
    params = {k: base[k] for k in ("profile", "profile_summary", "profile_note", "comparable",
                                   "eval")}
    params["launch"] = {"prefix": f"{sys.executable} record_devices.py", "launcher": "none"}
    params["runs"] = {run_id: _run(run_id) for run_id in run_ids}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([DVC, "init", "-q"], cwd=root, check=True)
    (root / ".dvc" / "config").write_text("[core]\n    analytics = false\n")
    return root


def env_for(root: Path) -> dict:
    """The project's own package first (its stage commands then run its code, as in a clone)."""
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(root),
                PYTHONWARNINGS="ignore")


def cli(root: Path, *args: str, timeout: int = 600, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ortho_suite", *args], cwd=root,
                          env=env_for(root), capture_output=True, text=True, timeout=timeout,
                          **kw)


def dvc(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DVC, *args], cwd=root, env=env_for(root), capture_output=True,
                          text=True, timeout=600)


def status(root: Path) -> dict:
    proc = dvc(root, "status", "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout or "{}")


def metrics(root: Path, run_ids=RUN_IDS) -> dict:
    return {r: json.loads((root / "results" / "smoke" / "runs" / r / "metrics.json").read_text())
            for r in run_ids}


def trainings(root: Path) -> list[dict]:
    """The recorder's finished-process lines."""
    path = root / "device_record.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [line for line in lines if "end" in line]


def comparable(record: dict) -> dict:
    """A metrics.json without the fields two identical runs differ in: the wall time and the
    checkpoint's MD5 (mmengine's checkpoint meta holds a timestamp); every metric stays."""
    return {k: v for k, v in record.items() if k not in ("wall_time_s", "checkpoint_md5")}


def overlapping(a: dict, b: dict) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """The four runs trained, evaluated and rendered by one sequential ``dvc repro``."""
    root = make_project(tmp_path_factory.mktemp("sequential") / "project")
    start = time.monotonic()
    proc = dvc(root, "repro")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert status(root) == {}
    return {"metrics": metrics(root), "wall_s": time.monotonic() - start}


# ---------------------------------------------------------------------------- no DVC needed


def test_devices_are_split_into_disjoint_groups_and_bad_ones_are_refused():
    groups = sweep.device_slots(sweep.parse_devices("0,1,2,3,4,5,6,7"), 2, None)
    assert groups == [("0", "1"), ("2", "3"), ("4", "5"), ("6", "7")]
    assert sweep.device_slots(["0", "1", "2", "3"], 1, 2) == [("0",), ("1",)]
    assert sweep.device_slots([], 1, 3) == [(), (), ()]  # CPU: workers without devices
    for args, message in [(("0,1,0",), "names device 0 twice"), (("0;1",), "not a device id")]:
        with pytest.raises(UsageError, match=message):
            sweep.parse_devices(*args)
    with pytest.raises(UsageError, match="not a multiple of --gpus-per-run 2"):
        sweep.device_slots(["0", "1", "2"], 2, None)
    with pytest.raises(UsageError, match="--jobs 0"):
        sweep.device_slots(["0"], 1, 0)


def test_the_launch_prefix_must_start_one_process_per_device_of_a_run(tmp_path):
    assert sweep.processes_per_run("") == 1
    assert sweep.processes_per_run("torchrun --standalone --nproc_per_node 4 --no-python") == 4
    assert sweep.processes_per_run("srun --ntasks=2") == 2
    assert sweep.processes_per_run("nice -n 5") == 5  # read as srun's -n: the check then asks
    params = tmp_path / "params.yaml"
    sweep.check_launch({"prefix": "torchrun --nproc_per_node 2"}, 2, params)
    with pytest.raises(UsageError, match="needs a launch prefix .* that starts 2 processes"):
        sweep.check_launch({"prefix": ""}, 2, params)
    with pytest.raises(UsageError, match="starts 4 processes per run but --gpus-per-run is 1"):
        sweep.check_launch({"prefix": "torchrun --nproc_per_node 4"}, 1, params)


def test_the_stages_that_depend_on_none_go_to_the_workers_first():
    """The pipeline's graph from ``dvc dag`` (this repository's dvc.yaml): the small experiments
    depend on no stage, so a sweep runs them on its workers beside the runs."""
    upstream = sweep.dvc_upstream(REPO, DVC)
    run = next(iter(yaml.safe_load((REPO / "params.yaml").read_text())["runs"]))
    assert upstream[f"evaluate@{run}"] == {f"pretrain@{run}"}
    assert {f"pretrain@{run}", f"evaluate@{run}", "iternorm_mapping"} <= upstream["summarize"]
    assert {"summarize", "directclr_toy", "or_proposition1"} <= upstream["tables"]
    sources = {stage for stage, before in upstream.items() if not before}
    assert sources - {s for s in sources if s.startswith("pretrain@")} == \
        {"directclr_toy", "or_proposition1", "iternorm_mapping"}
    stale = {f"pretrain@{run}": [], f"evaluate@{run}": [], "iternorm_mapping": [], "tables": []}
    plan = sweep.Plan(REPO, "smoke", [run], {}, stale, upstream)
    assert plan.stale_sources() == ["iternorm_mapping"]


def test_workers_sharing_the_cpu_let_idle_openmp_threads_sleep(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert sweep.worker_env((), 2)["OMP_WAIT_POLICY"] == "PASSIVE"
    assert "OMP_WAIT_POLICY" not in sweep.worker_env((), 1)  # alone: as a plain dvc repro
    assert "OMP_WAIT_POLICY" not in sweep.worker_env(("0",), 2)  # own GPU each
    assert sweep.worker_env(("0", "1"), 2)["CUDA_VISIBLE_DEVICES"] == "0,1"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # a user's setting is kept
    assert sweep.worker_env((), 2)["OMP_WAIT_POLICY"] == "ACTIVE"
    assert sweep.worker_env((), 2)["PATH"].startswith(str(BIN))


def test_bad_sweep_options_exit_2_with_one_line(tmp_path):
    for args in (["--devices", "0,0"], ["--jobs", "x"]):
        proc = cli(tmp_path, "sweep", *args, timeout=120)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stderr.startswith("ortho-suite: error: ") and "Traceback" not in proc.stderr
    proc = cli(tmp_path, "sweep", "--devices", "0", timeout=120)  # not a DVC project
    assert proc.returncode == 2 and "no dvc.yaml in" in proc.stderr and proc.stdout == ""


# ---------------------------------------------------------------------------- local workers


def test_two_workers_give_the_sequential_results_and_never_share_a_device(tmp_path, reference):
    root = make_project(tmp_path / "project")
    start = time.monotonic()
    proc = cli(root, "sweep", "--jobs", "2", "--devices", "0,1")
    wall = time.monotonic() - start
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    print(f"4 runs: sequential dvc repro {reference['wall_s']:.0f} s, sweep --jobs 2 {wall:.0f} s")
    assert status(root) == {}
    assert {r: comparable(m) for r, m in metrics(root).items()} == \
        {r: comparable(m) for r, m in reference["metrics"].items()}
    # the trainings themselves: one per run, each on device 0 or 1, never two on one at once
    runs = trainings(root)
    assert sorted(Path(t["work_dir"]).name for t in runs) == sorted(RUN_IDS)
    assert {t["cuda_visible_devices"] for t in runs} == {"0", "1"}
    assert all(t["exit"] == 0 for t in runs)
    pairs = [(a, b) for i, a in enumerate(runs) for b in runs[i + 1:] if overlapping(a, b)]
    assert pairs, "two workers: some trainings must have run at the same time"
    assert all(a["cuda_visible_devices"] != b["cuda_visible_devices"] for a, b in pairs)
    # progress: one line per stage started and finished, with device, wall time, count, ETA
    out = proc.stdout.splitlines()
    for run_id in RUN_IDS:
        for stage in (f"pretrain@{run_id}", f"evaluate@{run_id}"):
            assert any(line.startswith(f"sweep: started  {stage} on device ") for line in out)
            assert any(line.startswith(f"sweep: finished {stage} on device ") and ": ok in " in line
                       and "ETA" in line for line in out)
    assert "8/8 done (0 failed)" in proc.stdout and "dvc status is clean" in out[-1]
    record = json.loads((root / sweep.SWEEP_DIR / "smoke" / "sweep.json").read_text())
    assert len(record["tasks"]) == 8 and {t["status"] for t in record["tasks"]} == {"ok"}
    # a second sweep finds nothing to do
    again = cli(root, "sweep", "--jobs", "2", "--devices", "0,1")
    assert again.returncode == 0 and "0 to train, 0 to evaluate" in again.stdout
    assert len(trainings(root)) == len(RUN_IDS)


def _wait_for(predicate, proc, timeout=300.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, "the sweep ended before the test could act"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _started(root: Path, run_id: str) -> dict | None:
    path = root / "device_record.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return next((line for line in lines if "end" not in line
                 and Path(line["work_dir"]).name == run_id), None)


KILL_RUNS = RUN_IDS[:1] + RUN_IDS[2:3]  # simclr_none (killed), byol_none


def test_a_killed_worker_fails_alone_and_the_next_sweep_resumes_it(tmp_path, reference):
    root = make_project(tmp_path / "project", KILL_RUNS)
    victim = KILL_RUNS[0]
    work = root / "work_dirs" / "smoke" / victim
    proc = subprocess.Popen([sys.executable, "-m", "ortho_suite", "sweep", "--jobs", "2",
                             "--devices", "0,1"], cwd=root, env=env_for(root),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # after its first checkpoint, SIGKILL the victim's whole worker (dvc, recorder, training)
    _wait_for(lambda: (work / "last_checkpoint").is_file(), proc)
    os.killpg(os.getpgid(_started(root, victim)["pid"]), signal.SIGKILL)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, out + err
    log = root / sweep.SWEEP_DIR / "smoke" / f"pretrain@{victim}.log"
    assert f"sweep: FAILED   pretrain@{victim}: failed (exit -9), log {log}" in out
    assert "1 stage(s) failed; summary and tables not rendered" in out
    left = status(root)  # the other run went on to the end of its evaluation
    assert f"pretrain@{victim}" in left and not any(KILL_RUNS[1] in s for s in left)
    assert (work / "epoch_1.pth").is_file() and not (work / "summary.json").exists()

    again = cli(root, "sweep", "--jobs", "2", "--devices", "0,1")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "1 to train, 1 to evaluate" in again.stdout and status(root) == {}
    summary = json.loads((work / "summary.json").read_text())
    assert [r["epoch"] for r in summary["resumed_from"]] == [1]
    # resumed on CPU, bitwise where an uninterrupted run ends (README: Resume)
    assert {r: comparable(m) for r, m in metrics(root, KILL_RUNS).items()} == \
        {r: comparable(reference["metrics"][r]) for r in KILL_RUNS}


def _ends_soon(pid: int, timeout: float = 10.0) -> bool:
    """The process is gone or a zombie (dead, not yet reaped by its own parent) within
    ``timeout``: the signal reaches a killed group's members a moment after the sweep returns."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False


def test_ctrl_c_stops_every_worker_and_exits_130(tmp_path):
    root = make_project(tmp_path / "project", KILL_RUNS)
    # SIGINT as a terminal's Ctrl-C delivers it: restored to its default in the sweep's process,
    # since a test run started in the background (bash's `cmd &`) inherits it ignored
    proc = subprocess.Popen([sys.executable, "-m", "ortho_suite", "sweep", "--jobs", "2",
                             "--devices", "0,1"], cwd=root, env=env_for(root),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    _wait_for(lambda: all(_started(root, r) for r in KILL_RUNS), proc)
    pids = [_started(root, r)["pid"] for r in KILL_RUNS]
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert err.count("\n") == 1 and "interrupted; stopped 2 running stage(s)" in err
    for pid in pids:  # no training outlives the sweep
        assert _ends_soon(pid), f"training {pid} outlived the sweep"
    assert all(f"pretrain@{r}" in status(root) for r in KILL_RUNS)


# ---------------------------------------------------------------------------- Slurm

STAND_IN_SBATCH = '''#!{python}
"""Stand-in sbatch: records its arguments, runs the job at once (array tasks one by one)."""
import json, os, re, signal, subprocess, sys, time
from pathlib import Path
args = sys.argv[1:]
with open({calls!r}, "a") as f:
    f.write(json.dumps(args) + "\\n")
script = Path(args[-1])
text = script.read_text()
job = str(1000 + sum(1 for _ in open({calls!r})))
array = re.search(r"^#SBATCH --array=0-(\\d+)", text, re.M)
output = re.search(r"^#SBATCH --output=(\\S+)", text, re.M).group(1)
def run(task, restart=0, preempt=False):
    env = dict(os.environ, SLURM_JOB_ID=job, SLURM_RESTART_COUNT=str(restart))
    name = output.replace("%j", job).replace("%A", job)
    if task is not None:
        env.update(SLURM_ARRAY_JOB_ID=job, SLURM_ARRAY_TASK_ID=str(task))
        name = name.replace("%a", str(task))
    with open(name, "a") as log:
        p = subprocess.Popen(["bash", str(script)], env=env, stdout=log, stderr=log,
                             start_new_session=True)
        if preempt:  # the node is taken back after the run's first checkpoint: requeue
            while not list(Path("work_dirs").glob("*/*/last_checkpoint")) and p.poll() is None:
                time.sleep(0.05)
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            return run(task, restart + 1)
        return p.wait()
if array:
    for task in range(int(array.group(1)) + 1):
        run(task, preempt=(task == 0))
else:
    run(None)
print(job)
'''


def test_slurm_submits_one_array_task_per_stale_run_and_a_dependent_recording_job(
        tmp_path, reference):
    root = make_project(tmp_path / "project", KILL_RUNS)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "sbatch_calls.jsonl"
    (bin_dir / "sbatch").write_text(STAND_IN_SBATCH.format(python=sys.executable,
                                                          calls=str(calls)))
    (bin_dir / "sbatch").chmod(0o755)
    env = dict(env_for(root), PATH=f"{bin_dir}{os.pathsep}{env_for(root)['PATH']}")
    proc = subprocess.run([sys.executable, "-m", "ortho_suite", "sweep", "--slurm",
                           "--gpus-per-run", "1", "--sbatch-args", "--partition test"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    array_call, record_call = [json.loads(line) for line in calls.read_text().splitlines()]
    assert array_call[:3] == ["--parsable", "--partition", "test"]
    assert record_call[:4] == ["--parsable", "--partition", "test", "--dependency=afterany:1001"]
    script = Path(array_call[-1]).read_text()
    logs = root / sweep.SWEEP_DIR / "smoke"
    assert "#SBATCH --array=0-1\n" in script and "#SBATCH --gres=gpu:1\n" in script
    assert "#SBATCH --requeue\n" in script and "#SBATCH --ntasks=1\n" in script
    assert f"#SBATCH --output={logs}/slurm/pretrain-%A_%a.out\n" in script
    assert f"RUNS=({' '.join(KILL_RUNS)})" in script
    for run_id in KILL_RUNS:  # the stage's own, resuming command
        assert (f"ortho-suite pretrain --launcher none --method {run_id.split('_')[0]} "
                in script)
        assert f"--work-dir work_dirs/smoke/{run_id} --replace-other-config --retrain-finished" \
            in script
    assert "ortho-suite sweep --record-slurm" in Path(record_call[-1]).read_text()
    # the stand-in ran the array (task 0 preempted and requeued) and then the recording job
    assert status(root) == {}
    first = json.loads((root / "work_dirs" / "smoke" / KILL_RUNS[0] / "summary.json").read_text())
    assert [r["epoch"] for r in first["resumed_from"]] == [1]
    assert "restart 1" in (logs / f"pretrain@{KILL_RUNS[0]}.log").read_text()
    assert {r: comparable(m) for r, m in metrics(root, KILL_RUNS).items()} == \
        {r: comparable(reference["metrics"][r]) for r in KILL_RUNS}
    record_log = (logs / "slurm" / "record-1002.out").read_text()
    assert f"recorded 2 finished run(s) in dvc.lock: {', '.join(KILL_RUNS)}" in record_log
    nothing = subprocess.run([sys.executable, "-m", "ortho_suite", "sweep", "--slurm"], cwd=root,
                             env=env, capture_output=True, text=True, timeout=300)
    assert nothing.returncode == 0 and "nothing to submit" in nothing.stdout
    assert len(calls.read_text().splitlines()) == 2


# ---------------------------------------------------------------------------- the stress check


def test_the_dvc_concurrency_benchmark_runs_and_wait_for_lock_loses_nothing(tmp_path):
    """At toy size; the committed measurement (8 stages x 5 rounds) is
    results/perf/dvc_concurrency.json."""
    import importlib.util

    path = REPO / "benchmarks" / "perf" / "dvc_concurrency.py"
    spec = importlib.util.spec_from_file_location("perf_dvc_concurrency", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "dvc_concurrency.json"
    assert bench.main(["--stages", "3", "--rounds", "1", "--sleep", "0.2", "--dvc", DVC,
                       "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    waited = report["modes"]["wait_for_lock"]
    assert waited["processes_failed"] == 0 and waited["stages_lost_from_dvc_lock"] == 0
    assert waited["dvc_lock_always_parsed"] and waited["rounds_with_dirty_status"] == 0
    committed = json.loads((REPO / "results" / "perf" / "dvc_concurrency.json").read_text())
    assert committed["stages"] == 8 and committed["rounds"] >= 5
    assert committed["modes"]["wait_for_lock"]["stages_lost_from_dvc_lock"] == 0
