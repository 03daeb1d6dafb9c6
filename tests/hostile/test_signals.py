"""SIGTERM and Ctrl-C end audit, dedup and sample promptly: exit 2 and one line on stderr, no
worker left running, the spool folder gone from TMPDIR, no output (not even a partial one).

Real processes: the CLI is started, signalled at a chosen moment (spool folder created, worker
processes running, a while into the checks), and every process it started is tracked."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

psutil = pytest.importorskip("psutil")

from tests.hostile._inputs import REPO, snapshot  # noqa: E402

RECORDS = 20_000


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset big enough for many batches (so worker processes start), and a config that cuts it
    into batches of 1,000."""
    root = tmp_path_factory.mktemp("signals")
    rng = random.Random(5)
    words = [f"w{i}" for i in range(5000)]
    with open(root / "train.jsonl", "w", encoding="utf-8") as fh:
        for _ in range(RECORDS):
            fh.write(json.dumps({"messages": [{"role": "user", "content": " ".join(rng.choices(words, k=20))},
                                              {"role": "assistant", "content": " ".join(rng.choices(words, k=60))}]})
                     + "\n")
    (root / "fineaudit.toml").write_text("batch_size = 1000\n")
    return root


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _reached(moment: str, proc: subprocess.Popen[str], tmpdir: Path, started: float, seen: dict[int, psutil.Process],
             workers_at: list[float]) -> bool:
    for child in _descendants(proc.pid):
        seen.setdefault(child.pid, child)
    workers = [c for c in seen.values() if c.pid != proc.pid and _ppid(c) not in (proc.pid, None)]
    if workers and not workers_at:
        workers_at.append(time.monotonic())
    if moment == "startup":
        return time.monotonic() - started > 0.3
    if moment == "spool":
        return any(tmpdir.iterdir())
    if moment == "workers":
        return bool(workers)
    return bool(workers_at) and time.monotonic() - workers_at[0] > 1.5  # "checks": a while into them


def _ppid(process: psutil.Process) -> int | None:
    try:
        return process.ppid()
    except psutil.NoSuchProcess:
        return None


def _run(args: list[str], cwd: Path, moment: str, signum: int) -> tuple[subprocess.CompletedProcess[str], list[int], bool]:
    """Start the CLI, signal it at `moment`; (result, descendants still alive, signal sent)."""
    tmpdir = cwd / f"tmp-{moment}-{signum}-{args[0]}"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO),
           "FINEAUDIT_CACHE_DIR": str(cwd / "cache")}
    proc = subprocess.Popen([sys.executable, "-c", "from fineaudit.cli import main; raise SystemExit(main())",
                             *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    started, seen, workers_at, sent = time.monotonic(), {}, [], False
    while proc.poll() is None and time.monotonic() - started < 300:
        if not sent and _reached(moment, proc, tmpdir, started, seen, workers_at):
            # Ctrl-C reaches the whole foreground process group; SIGTERM (kill, CI cancel) the main process
            os.killpg(proc.pid, signum) if signum == signal.SIGINT else os.kill(proc.pid, signum)
            sent, signalled = True, time.monotonic()
        time.sleep(0.02)
    stdout, stderr = proc.communicate(timeout=60)
    if sent:
        assert time.monotonic() - signalled < 30, "the run did not end promptly after the signal"
    deadline = time.monotonic() + 10
    alive = [p.pid for p in seen.values() if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [p.pid for p in seen.values() if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    leftovers = sorted(p.name for p in tmpdir.iterdir())
    assert leftovers == [], f"left in TMPDIR: {leftovers}"
    return subprocess.CompletedProcess(args, proc.returncode, stdout, stderr), alive, sent


CASES = [
    ("audit", "startup", signal.SIGTERM),
    ("audit", "spool", signal.SIGTERM),
    ("audit", "workers", signal.SIGTERM),
    ("audit", "checks", signal.SIGTERM),
    ("audit", "workers", signal.SIGINT),
    ("audit", "checks", signal.SIGINT),
    ("dedup", "workers", signal.SIGTERM),
    ("dedup", "workers", signal.SIGINT),
    ("sample", "workers", signal.SIGTERM),
]


@pytest.mark.parametrize("command, moment, signum", CASES, ids=[f"{c}-{m}-{s.name}" for c, m, s in CASES])
def test_signal_ends_the_run_cleanly(command: str, moment: str, signum: signal.Signals, workdir: Path) -> None:
    out = workdir / f"out-{command}-{moment}-{signum.name}"
    args = {"audit": ["audit", "train.jsonl", "--no-cache", "--json", f"{out}.json"],
            "dedup": ["dedup", "train.jsonl", "--out", f"{out}.jsonl"],
            "sample": ["sample", "train.jsonl", "-n", "50", "--out", f"{out}.md"]}[command]
    before = snapshot(workdir / "train.jsonl")
    result, alive, sent = _run(args, workdir, moment, signum)
    assert sent, f"the run ended (exit {result.returncode}) before the moment '{moment}': {result.stderr}"
    assert alive == [], f"processes still running: {alive}"
    assert snapshot(workdir / "train.jsonl") == before
    assert not [p for p in workdir.iterdir() if p.name.startswith((out.name, f".{out.name}"))], "partial output"
    if moment == "startup" and result.returncode == -signum:
        return  # before the CLI's handlers exist (interpreter start-up): the default action, nothing begun
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and f"stopped by {signum.name}" in lines[0], result.stderr


def test_dask_scheduler_that_never_answers_is_exit_2_within_the_connect_timeout(tmp_path: Path) -> None:
    """A server that accepts the connection and then says nothing (a wrong port, a stuck proxy)."""
    pytest.importorskip("distributed")
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: [accepted.append(server.accept()[0]) for _ in range(8)], daemon=True).start()
    (tmp_path / "train.jsonl").write_text("".join(json.dumps({"text": f"document {i}"}) + "\n" for i in range(20)))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", "from fineaudit.cli import main; raise SystemExit(main())",
                           "audit", "train.jsonl", "--no-cache", "-q", "--engine", "dask", "--scheduler",
                           f"tcp://127.0.0.1:{server.getsockname()[1]}"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "scheduler" in done.stderr, done.stderr
    assert time.monotonic() - started < 90  # the connect timeout is 30 s, start-up included
    server.close()
