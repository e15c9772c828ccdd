"""``ortho-suite sweep``: a profile's stale runs trained concurrently, DVC still the record.

It works above the DVC stages and runs everything as subprocesses (nothing of train, evaluate or
report is imported here):

1. ``dvc status --json`` names the stale ``pretrain@<run>`` and ``evaluate@<run>`` stages;
2. up to ``--jobs`` of them run at once, each in its own process group with its own
   ``CUDA_VISIBLE_DEVICES`` (a group of ``--gpus-per-run`` devices; no device is ever given to
   two stages at once), each through ``dvc --wait-for-lock repro -s <stage>``, so that DVC runs
   the stage's own command and records it in ``dvc.lock``. DVC releases its repository lock
   while a stage's command runs and takes it again to record the stage;
   ``--wait-for-lock`` makes that wait as long as it takes (without it DVC gives up after 3 s and
   the finished stage goes unrecorded: benchmarks/perf/dvc_concurrency.py measured both);
3. an evaluation starts as soon as its run is trained; pretrainings go first;
4. a final ``dvc --wait-for-lock repro`` renders the summary and tables (and any other stale
   stage), only when every run succeeded.

A stage that fails (or whose worker is killed) is listed at the end with its log and the command
exits 1; its work dir keeps its checkpoints, so the next sweep resumes it. Ctrl-C (or SIGTERM)
sends SIGINT to every worker's process group, waits for them, kills what is left, and exits 130.

``--slurm`` submits the stale pretrain stages as one job array instead (one task per run, each
running the stage's command directly: a requeued task resumes its run), and a follow-up job
(``--dependency=afterany``) that records the finished runs with ``dvc commit -f`` (one process:
the recording is serialised) and then does steps 2-4 for the evaluations and the tables.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .errors import UsageError, read_yaml
from .runs import SUMMARY_FILE, lock_holder

PROG = "ortho-suite sweep"
SWEEP_DIR = Path("work_dirs") / ".sweep"  # logs and records, outside every stage's deps
GRACE_S = 30.0  # after Ctrl-C: how long workers get to stop before they are killed
POLL_S = 0.2


def _say(message: str) -> None:
    print(f"sweep: {message}", flush=True)


# ---------------------------------------------------------------------------- DVC


def dvc_executable() -> str:
    beside = Path(sys.executable).parent / "dvc"
    if beside.is_file():
        return str(beside)
    found = shutil.which("dvc")
    if not found:
        raise UsageError("dvc not found beside this Python or on PATH; run 'make' to build the "
                         "suite's environment, or put dvc on PATH")
    return found


def _dvc_error(proc: subprocess.CompletedProcess) -> str:
    lines = (proc.stderr or proc.stdout or "").strip().splitlines()
    return next((line for line in lines if "ERROR" in line), lines[-1] if lines else "no output")


def dvc_status(root: Path, dvc: str) -> dict:
    """{stage name: its changes} of every stale stage of the pipeline (``dvc status --json``)."""
    proc = subprocess.run([dvc, "--wait-for-lock", "status", "--json"], cwd=root,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise UsageError(f"'dvc status' failed in {root}: {_dvc_error(proc)}; run the sweep "
                         "from the repository root and check 'dvc status' by hand")
    try:
        status = json.loads(proc.stdout or "{}")
    except json.JSONDecodeError:
        raise UsageError(f"'dvc status --json' printed no JSON in {root}; check 'dvc status' "
                         "by hand") from None
    return status if isinstance(status, dict) else {}


def dvc_upstream(root: Path, dvc: str) -> dict[str, set[str]]:
    """{stage: the stages it depends on directly} of the pipeline, from ``dvc dag --dot``."""
    proc = subprocess.run([dvc, "--wait-for-lock", "dag", "--dot"], cwd=root,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise UsageError(f"'dvc dag' failed in {root}: {_dvc_error(proc)}; check 'dvc dag' by "
                         "hand")
    upstream: dict[str, set[str]] = {}
    for line in proc.stdout.splitlines():
        edge = re.fullmatch(r'\s*"([^"]+)"\s*->\s*"([^"]+)";?\s*', line)
        node = re.fullmatch(r'\s*"([^"]+)";?\s*', line)
        if edge:
            upstream.setdefault(edge.group(2), set()).add(edge.group(1))
            upstream.setdefault(edge.group(1), set())
        elif node:
            upstream.setdefault(node.group(1), set())
    return upstream


# ---------------------------------------------------------------------------- the plan


@dataclass
class Plan:
    root: Path
    profile: str
    runs: list[str]  # params.yaml's runs, in order
    launch: dict
    stale: dict  # dvc status
    upstream: dict  # dvc dag: {stage: the stages it depends on}

    def stale_runs(self, stage: str) -> list[str]:
        return [run for run in self.runs if f"{stage}@{run}" in self.stale]

    def stale_sources(self) -> list[str]:
        """The stale stages other than the runs' that depend on no stage (the papers' small
        experiments): they go to the workers too, first, since one may take minutes."""
        return [s for s in self.stale if not self.upstream.get(s)
                and _kind(s) not in RUN_STAGES]

    @property
    def logs(self) -> Path:
        return self.root / SWEEP_DIR / self.profile


def load_plan(root: Path, dvc: str) -> Plan:
    from .profiles import load_params

    if not (root / "dvc.yaml").is_file():
        raise UsageError(f"no dvc.yaml in {root}; run the sweep from the repository root")
    params = load_params(root / "params.yaml")
    launch = params.get("launch") or {"prefix": "", "launcher": "none"}
    return Plan(root, params["profile"], list(params["runs"]), launch, dvc_status(root, dvc),
                dvc_upstream(root, dvc))


_PROCESS_FLAGS = ("--nproc_per_node", "--nproc-per-node", "--ntasks", "-n")


def processes_per_run(prefix: str) -> int | None:
    """How many processes the launch prefix starts per run (1 for none; None when unknown)."""
    words = shlex.split(prefix or "")
    if not words:
        return 1
    for i, word in enumerate(words):
        flag, eq, value = word.partition("=")
        if flag in _PROCESS_FLAGS:
            value = value if eq else (words[i + 1] if i + 1 < len(words) else "")
            return int(value) if value.isdigit() else None
    return None


def check_launch(launch: dict, gpus_per_run: int, params_path: Path) -> None:
    """Each run's processes must match its devices: params.yaml's launch section starts K
    processes for --gpus-per-run K (README: Crashes, divergence and distributed runs)."""
    n = processes_per_run(str(launch.get("prefix") or ""))
    if gpus_per_run > 1 and n == 1:
        raise UsageError(f"--gpus-per-run {gpus_per_run} needs a launch prefix in {params_path} "
                         f"that starts {gpus_per_run} processes per run, e.g. launch.prefix "
                         f"'torchrun --standalone --nproc_per_node {gpus_per_run} --no-python' "
                         "and launch.launcher 'pytorch'")
    if n is not None and n != max(gpus_per_run, 1):
        raise UsageError(f"the launch prefix in {params_path} starts {n} processes per run but "
                         f"--gpus-per-run is {gpus_per_run}; give --gpus-per-run {n} or change "
                         "launch.prefix")


def parse_devices(text: str | None) -> list[str]:
    """Device ids from '0,1,2,3' (duplicates are an error: one device, one run)."""
    devices = [d.strip() for d in (text or "").split(",") if d.strip()]
    bad = [d for d in devices if not re.fullmatch(r"[A-Za-z0-9_-]+", d)]
    if bad:
        raise UsageError(f"--devices: {bad[0]!r} is not a device id; give ids separated by "
                         "commas, e.g. --devices 0,1,2,3")
    dupes = sorted({d for d in devices if devices.count(d) > 1})
    if dupes:
        raise UsageError(f"--devices names device {dupes[0]} twice; a device is given to one run "
                         "at a time, name each once")
    return devices


def default_devices() -> list[str]:
    """CUDA_VISIBLE_DEVICES when set, else the GPUs nvidia-smi lists, else none (CPU)."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return parse_devices(env)
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            return []
        return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]
    return []


def device_slots(devices: list[str], gpus_per_run: int, jobs: int | None) -> list[tuple[str, ...]]:
    """Disjoint device groups, one per worker; [()] * jobs on CPU (no devices)."""
    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs {jobs}: give at least 1")
    if gpus_per_run < 1:
        raise UsageError(f"--gpus-per-run {gpus_per_run}: give at least 1")
    if not devices:
        if gpus_per_run > 1:
            raise UsageError(f"--gpus-per-run {gpus_per_run} needs devices; give --devices")
        return [()] * (jobs or 1)
    if len(devices) % gpus_per_run:
        raise UsageError(f"--devices gives {len(devices)} devices, not a multiple of "
                         f"--gpus-per-run {gpus_per_run}; give a multiple")
    groups = [tuple(devices[i:i + gpus_per_run]) for i in range(0, len(devices), gpus_per_run)]
    return groups[:jobs] if jobs else groups


def _device_text(group: tuple[str, ...]) -> str:
    return f"device {','.join(group)}" if group else "cpu"


# ---------------------------------------------------------------------------- the workers


@dataclass
class Task:
    stage: str  # e.g. pretrain@r1
    log: Path
    devices: tuple[str, ...] = ()
    proc: subprocess.Popen | None = None
    start: float = 0.0
    wall_s: float = 0.0
    status: str = "pending"  # pending, running, ok, failed (exit N), interrupted
    exit_code: int | None = None
    extra: dict = field(default_factory=dict)


class Interrupted(Exception):
    pass


def _raise_interrupt(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


def worker_env(devices: tuple[str, ...], workers: int) -> dict:
    """The environment of a worker's stage: its devices, this Python's bin first on PATH, and,
    where several workers share the CPU, OpenMP threads that sleep when idle
    (``OMP_WAIT_POLICY=PASSIVE``, unless already set). By default they spin: two smoke
    pretrainings of 2 threads each on 2 cores took 127 s together against 29 s for one alone,
    and 34 s with PASSIVE (README: Many runs at once). The thread count is left as it is, so the
    results are those of a sequential run (measured equal)."""
    env = dict(os.environ, CUDA_VISIBLE_DEVICES=",".join(devices))
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    if not devices and workers > 1:
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


class Pool:
    """Runs stages ``dvc repro -s`` at once, one device group each."""

    def __init__(self, root: Path, dvc: str, slots: list[tuple[str, ...]], record: Path):
        self.root, self.dvc, self.record = root, dvc, record
        self.free = list(range(len(slots)))
        self.slots = slots
        self.running: dict[int, Task] = {}
        self.done: list[Task] = []
        self.total = 0
        self.follow_up = None

    def _launch(self, task: Task, slot: int) -> None:
        task.devices = self.slots[slot]
        env = worker_env(task.devices, len(self.slots))
        task.log.parent.mkdir(parents=True, exist_ok=True)
        cmd = [self.dvc, "--wait-for-lock", "repro", "-s", task.stage]
        with open(task.log, "a") as log:
            log.write(f"== {datetime.now().isoformat(timespec='seconds')} {PROG}: "
                      f"{shlex.join(cmd)} with CUDA_VISIBLE_DEVICES="
                      f"{env['CUDA_VISIBLE_DEVICES']!r}\n")
            log.flush()
            task.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)  # own group: Ctrl-C is ours
        task.start, task.status = time.monotonic(), "running"
        self.running[slot] = task
        _say(f"started  {task.stage} on {_device_text(task.devices)} (pid {task.proc.pid}, "
             f"log {self._rel(task.log)})")

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def _eta(self, queue: list[Task]) -> str:
        """Mean wall time per kind of stage (pretrain, evaluate) times the work left, over the
        workers; the evaluations that running and queued pretrainings will add count too."""
        walls: dict[str, list[float]] = {}
        for t in self.done:
            if t.status == "ok":
                walls.setdefault(_kind(t.stage), []).append(t.wall_s)
        if not walls:
            return "ETA unknown"
        every = [w for ws in walls.values() for w in ws]
        mean = {k: sum(ws) / len(ws) for k, ws in walls.items()}
        guess = lambda kind: mean.get(kind, sum(every) / len(every))  # noqa: E731
        now = time.monotonic()
        work = sum(guess(_kind(t.stage)) for t in queue)
        work += sum(max(guess(_kind(t.stage)) - (now - t.start), 0.0) for t in self.running.values())
        trains = sum(_kind(t.stage) == "pretrain" for t in [*queue, *self.running.values()])
        work += trains * guess("evaluate") if self.follow_up else 0.0
        return f"ETA {work / len(self.slots):.0f} s"

    def _finish(self, slot: int, task: Task, code: int, queue: list[Task]) -> None:
        del self.running[slot]
        self.free.append(slot)
        task.wall_s, task.exit_code = time.monotonic() - task.start, code
        task.status = "ok" if code == 0 else f"failed (exit {code})"
        self.done.append(task)
        if code != 0 and self.follow_up and _kind(task.stage) == "pretrain":
            self.total -= 1  # its evaluation will not run
        ok = sum(t.status == "ok" for t in self.done)
        failed = len(self.done) - ok
        _say(f"finished {task.stage} on {_device_text(task.devices)}: {task.status} in "
             f"{task.wall_s:.1f} s; {len(self.done)}/{self.total} done ({failed} failed), "
             f"{len(self.running)} running, {self._eta(queue)}")
        self._write_record()

    def _write_record(self) -> None:
        from .provenance import atomic_write_json

        rows = [{"stage": t.stage, "devices": list(t.devices), "status": t.status,
                 "exit_code": t.exit_code, "wall_s": round(t.wall_s, 3), "log": self._rel(t.log)}
                for t in self.done]
        self.record.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.record, {"tasks": rows})

    def run(self, queue: list[Task], after=None) -> list[Task]:
        """Run every task of ``queue`` (``after(task)`` may return tasks to queue behind the
        others when a task succeeds; each pretraining is counted with its evaluation). Returns
        the finished tasks."""
        self.follow_up = after
        self.total = len(queue) + (sum(_kind(t.stage) == "pretrain" for t in queue) if after else 0)
        old = {s: signal.signal(s, _raise_interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
        try:
            while queue or self.running:
                while queue and self.free:
                    self._launch(queue.pop(0), self.free.pop(0))
                time.sleep(POLL_S)
                for slot, task in list(self.running.items()):
                    code = task.proc.poll()
                    if code is None:
                        continue
                    if code == 0 and after:
                        queue.extend(after(task))
                    self._finish(slot, task, code, queue)
        except (KeyboardInterrupt, Interrupted):
            self.stop()
            raise KeyboardInterrupt from None
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)
        return self.done

    def stop(self) -> None:
        """SIGINT to every worker's process group (DVC and the training stop cleanly: results
        are written atomically, checkpoints of a cut epoch are skipped on resume), then SIGKILL
        to what is left after GRACE_S."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this short
        for task in self.running.values():
            _signal_group(task.proc, signal.SIGINT)
        deadline = time.monotonic() + GRACE_S
        for task in self.running.values():
            try:
                task.proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(task.proc, signal.SIGKILL)  # stragglers of the group, if any
            task.proc.wait()
            task.status, task.exit_code = "interrupted", task.proc.returncode
            task.wall_s = time.monotonic() - task.start
            self.done.append(task)
        self._write_record()
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _kind(stage: str) -> str:
    return stage.partition("@")[0]


RUN_STAGES = ("pretrain", "evaluate")  # the foreach stages of dvc.yaml, one item per run


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


# ---------------------------------------------------------------------------- local sweep


def _report_failures(failed: list[Task], root: Path) -> None:
    for task in failed:
        _say(f"FAILED   {task.stage}: {task.status}, log {task.log}")


def sweep(root: Path, jobs: int | None, devices: list[str] | None, gpus_per_run: int,
          dry_run: bool = False, train: bool = True) -> int:
    """Train and evaluate the stale runs concurrently, then render (see the module doc).
    ``train=False`` (the Slurm follow-up) trains nothing: stale pretrain stages count as
    failed."""
    dvc = dvc_executable()
    plan = load_plan(root, dvc)
    if train:
        check_launch(plan.launch, gpus_per_run, root / "params.yaml")
    devices = default_devices() if devices is None else devices
    slots = device_slots(devices, gpus_per_run, jobs)
    eval_slots = [(d,) for group in slots for d in group] or slots  # evaluation: one device
    pretrain = plan.stale_runs("pretrain")
    evaluate = [r for r in plan.stale_runs("evaluate") if r not in pretrain]
    sources = plan.stale_sources()
    others = f", {len(sources)} other stage(s) ({', '.join(sources)})" if sources else ""
    _say(f"profile {plan.profile}: {len(plan.runs)} runs, {len(pretrain)} to train, "
         f"{len(evaluate) + len(pretrain)} to evaluate{others}; {len(slots)} workers on "
         f"{', '.join(_device_text(s) for s in slots)}")
    if dry_run:
        for stage in sources:
            _say(f"would run  dvc --wait-for-lock repro -s {stage}")
        for run in pretrain:
            _say(f"would run  dvc --wait-for-lock repro -s pretrain@{run}")
        for run in [*evaluate, *pretrain]:
            _say(f"would run  dvc --wait-for-lock repro -s evaluate@{run}")
        _say("would run  dvc --wait-for-lock repro  (summary, tables, other stale stages)")
        return 0
    failed: list[Task] = []
    if pretrain and not train:
        failed = [Task(f"pretrain@{r}", plan.logs / f"pretrain@{r}.log", status="not trained")
                  for r in pretrain]
        pretrain = []

    def log(stage: str) -> Path:
        return plan.logs / f"{stage}.log"

    def evaluation_of(task: Task) -> list[Task]:
        if task.stage.startswith("pretrain@"):
            return [Task(task.stage.replace("pretrain@", "evaluate@", 1),
                         log(task.stage.replace("pretrain@", "evaluate@", 1)))]
        return []

    started = time.monotonic()
    queue = [Task(stage, log(stage)) for stage in sources]
    queue += [Task(f"pretrain@{r}", log(f"pretrain@{r}")) for r in pretrain]
    queue += [Task(f"evaluate@{r}", log(f"evaluate@{r}")) for r in evaluate]
    if queue:
        # Pretrainings and evaluations share the workers; an evaluation takes a whole slot.
        pool = Pool(root, dvc, slots if pretrain or sources else eval_slots,
                    plan.logs / "sweep.json")
        try:
            done = pool.run(queue, after=evaluation_of)
        except KeyboardInterrupt:
            cut = [t for t in pool.done if t.status == "interrupted"]
            print(f"{PROG}: interrupted; stopped {len(cut)} running stage(s) "
                  f"({', '.join(t.stage for t in cut) or 'none'}); re-run the same command to "
                  "resume them from their last checkpoints", file=sys.stderr)
            return 130
        failed += [t for t in done if t.status != "ok"]
    if failed:
        _report_failures(failed, root)
        _say(f"{len(failed)} stage(s) failed; summary and tables not rendered. Fix the cause "
             f"named in each log and re-run '{PROG}': an interrupted run resumes from its last "
             "checkpoint")
        return 1
    final_log = log("final")
    _say(f"rendering: dvc --wait-for-lock repro (log {final_log})")
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    if slots and slots[0]:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(slots[0])
    final_log.parent.mkdir(parents=True, exist_ok=True)
    with open(final_log, "a") as out:
        final = subprocess.run([dvc, "--wait-for-lock", "repro"], cwd=root, env=env,
                               stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if final.returncode != 0:
        _say(f"FAILED   dvc repro (exit {final.returncode}), log {final_log}")
        return 1
    left = dvc_status(root, dvc)
    if left:
        _say(f"dvc status still lists {', '.join(sorted(left))}; see {final_log}")
        return 1
    _say(f"all stages up to date in {time.monotonic() - started:.1f} s (dvc status is clean)")
    return 0


# ---------------------------------------------------------------------------- Slurm


def _stages(root: Path, names: list[str]) -> dict:
    """{name: (cmd, [dep paths], {params file: [keys]})} of DVC's own reading of dvc.yaml."""
    from dvc.repo import Repo

    found = {}
    with Repo(str(root)) as repo:
        for name in names:
            stage = repo.stage.collect(name)[0]
            paths, params = [], {}
            for dep in stage.deps:
                keys = getattr(dep, "params", None)
                if keys is not None:
                    params[dep.def_path] = sorted(keys)
                else:
                    paths.append(dep.def_path)
            found[name] = (stage.cmd, paths, params)
    return found


def _fingerprint(root: Path, cmd: str, paths: list[str], params: dict) -> str:
    """sha256 of a stage's command, its params' values and its deps' files: what
    ``dvc commit -f`` would record as having produced the output."""
    digest = hashlib.sha256(cmd.encode())
    for path in sorted(paths):
        target = root / path
        files = sorted(target.rglob("*")) if target.is_dir() else [target]
        for f in files:
            if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc":
                digest.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
    for file, keys in sorted(params.items()):
        data = read_yaml(root / file, "params file") or {}
        for key in keys:
            node = data
            for part in key.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            digest.update(f"{file}:{key}={json.dumps(node, sort_keys=True)}".encode())
    return digest.hexdigest()


def _summary_state(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _sbatch(args: list[str]) -> str:
    sbatch = shutil.which("sbatch")
    if not sbatch:
        raise UsageError("sbatch not found on PATH; run --slurm on a Slurm login node")
    proc = subprocess.run([sbatch, "--parsable", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        line = (proc.stderr or proc.stdout).strip().splitlines()
        raise UsageError(f"sbatch refused the job ({line[-1] if line else 'no output'}); fix "
                         "the --sbatch-args or the partition's limits")
    return proc.stdout.strip().split(";")[0]


def submit_slurm(root: Path, gpus_per_run: int, jobs: int | None, sbatch_args: str,
                 max_running: int | None, dry_run: bool = False) -> int:
    """One array task per stale pretrain stage, then a dependent recording job."""
    dvc = dvc_executable()
    plan = load_plan(root, dvc)
    check_launch(plan.launch, gpus_per_run, root / "params.yaml")
    extra = shlex.split(sbatch_args or "")
    runs = plan.stale_runs("pretrain")
    if not runs:
        _say(f"profile {plan.profile}: no stale pretrain stage; nothing to submit (run "
             f"'{PROG}' to evaluate and render)")
        return 0
    stages = _stages(root, [f"pretrain@{r}" for r in runs])
    slurm_dir = plan.logs / "slurm"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    manifest = slurm_dir / f"{stamp}.json"
    bin_dir = Path(sys.executable).parent
    k = max(gpus_per_run, 1)
    tasks = "#SBATCH --ntasks=%d" % (k if plan.launch.get("launcher") == "slurm" else 1)
    gres = f"#SBATCH --gres=gpu:{gpus_per_run}" if gpus_per_run else "# (no GPUs: --gpus-per-run 0)"
    throttle = f"%{max_running}" if max_running else ""
    run_list = " ".join(shlex.quote(r) for r in runs)
    cmd_list = "\n".join(f"  {shlex.quote(stages[f'pretrain@{r}'][0])}" for r in runs)
    array = f"""#!/bin/bash
# Written by '{PROG} --slurm' ({stamp}) for profile {plan.profile}: one array task per stale
# pretrain stage. Each task runs the stage's own command from dvc.yaml (as DVC would), which
# resumes an unfinished run from its last checkpoint, so a requeued or resubmitted task resumes.
# DVC records the runs afterwards, in the dependent job ({PROG} --record-slurm).
#SBATCH --job-name=ortho-{plan.profile}-pretrain
#SBATCH --array=0-{len(runs) - 1}{throttle}
#SBATCH --nodes=1
{tasks}
{gres}
#SBATCH --output={slurm_dir}/pretrain-%A_%a.out
#SBATCH --open-mode=append
#SBATCH --requeue
set -euo pipefail
cd {shlex.quote(str(root))}
export PATH={shlex.quote(str(bin_dir))}:$PATH
RUNS=({run_list})
CMDS=(
{cmd_list}
)
RUN=${{RUNS[$SLURM_ARRAY_TASK_ID]}}
LOG={shlex.quote(str(plan.logs))}/pretrain@$RUN.log
echo "== $(date -Iseconds) slurm job ${{SLURM_ARRAY_JOB_ID:-?}}_$SLURM_ARRAY_TASK_ID on $(hostname), \\
restart ${{SLURM_RESTART_COUNT:-0}}, CUDA_VISIBLE_DEVICES=${{CUDA_VISIBLE_DEVICES-}}: pretrain@$RUN" >> "$LOG"
exec bash -c "${{CMDS[$SLURM_ARRAY_TASK_ID]}}" >> "$LOG" 2>&1
"""
    jobs_arg = f" --jobs {jobs}" if jobs else ""
    gpus = f"#SBATCH --gres=gpu:{jobs or 1}" if gpus_per_run else "# (no GPUs)"
    record = f"""#!/bin/bash
# Written by '{PROG} --slurm' ({stamp}): runs after every array task ended (afterany), records
# the finished runs in dvc.lock (dvc commit -f, one process), evaluates them and renders tables.
#SBATCH --job-name=ortho-{plan.profile}-record
#SBATCH --nodes=1
#SBATCH --ntasks=1
{gpus}
#SBATCH --output={slurm_dir}/record-%j.out
set -euo pipefail
cd {shlex.quote(str(root))}
export PATH={shlex.quote(str(bin_dir))}:$PATH
exec ortho-suite sweep --record-slurm {shlex.quote(str(manifest))}{jobs_arg}
"""
    if dry_run:
        print(array)
        print(record)
        return 0
    slurm_dir.mkdir(parents=True, exist_ok=True)
    from .provenance import atomic_write_json, atomic_write_text

    work = {r: root / "work_dirs" / plan.profile / r for r in runs}
    atomic_write_json(manifest, {
        "profile": plan.profile, "runs": runs, "written": stamp,
        "fingerprints": {r: _fingerprint(root, *stages[f"pretrain@{r}"]) for r in runs},
        "summaries_before": {r: _summary_state(work[r] / SUMMARY_FILE) for r in runs},
        "logs": {r: str(plan.logs / f"pretrain@{r}.log") for r in runs}})
    array_path, record_path = slurm_dir / f"{stamp}.pretrain.sbatch", slurm_dir / f"{stamp}.record.sbatch"
    atomic_write_text(array_path, array)
    atomic_write_text(record_path, record)
    job = _sbatch([*extra, str(array_path)])
    _say(f"submitted job array {job}: {len(runs)} pretrain tasks ({gpus_per_run} GPU(s) each), "
         f"script {array_path}, logs {plan.logs}/pretrain@<run>.log")
    follow = _sbatch([*extra, f"--dependency=afterany:{job}", str(record_path)])
    _say(f"submitted job {follow} (after {job} ends): records, evaluates and renders; log "
         f"{slurm_dir}/record-{follow}.out")
    return 0


def record_slurm(root: Path, manifest_path: Path, jobs: int | None,
                 devices: list[str] | None) -> int:
    """The follow-up job: record the array's finished runs, then evaluate and render."""
    data = read_yaml(manifest_path, "sweep manifest", "give the .json that --slurm wrote")
    if not isinstance(data, dict) or not {"runs", "fingerprints", "summaries_before"} <= set(data):
        raise UsageError(f"{manifest_path}: not a sweep manifest; give the .json that --slurm wrote")
    dvc = dvc_executable()
    plan = load_plan(root, dvc)
    runs = [r for r in data["runs"] if f"pretrain@{r}" in plan.stale]
    stages = _stages(root, [f"pretrain@{r}" for r in runs]) if runs else {}
    record, problems = [], []
    for run in runs:
        work = root / "work_dirs" / plan.profile / run
        summary = work / SUMMARY_FILE
        log = data.get("logs", {}).get(run, str(plan.logs / f"pretrain@{run}.log"))
        if _fingerprint(root, *stages[f"pretrain@{run}"]) != data["fingerprints"].get(run):
            problems.append(f"pretrain@{run}: its code, command or params changed since "
                            "submission; not recorded (re-run 'ortho-suite sweep --slurm')")
        elif lock_holder(work) is not None:
            problems.append(f"pretrain@{run}: still training (process {lock_holder(work)}); "
                            f"log {log}")
        elif _summary_state(summary) in (None, data["summaries_before"].get(run)):
            problems.append(f"pretrain@{run}: did not finish in the array (no new {SUMMARY_FILE}); "
                            f"log {log}")
        else:
            record.append(run)
    if record:
        proc = subprocess.run([dvc, "--wait-for-lock", "commit", "-f",
                               *[f"pretrain@{r}" for r in record]], cwd=root,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise UsageError(f"'dvc commit' failed: {_dvc_error(proc)}; check 'dvc status'")
        _say(f"recorded {len(record)} finished run(s) in dvc.lock: {', '.join(record)}")
    for line in problems:
        _say(f"FAILED   {line}")
    code = sweep(root, jobs, devices, 1, train=False)
    return 1 if problems else code
