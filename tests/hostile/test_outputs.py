"""Outputs never replace inputs (after links), and are written whole or not at all."""
from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from fineaudit.core import FineauditError
from fineaudit.commands.output_paths import write_atomically
from tests.conftest import CliResult
from tests.hostile._inputs import REPO, chats, snapshot, write_records

REPORTS = ("--json", "--html", "--markdown", "--junit")


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    (root / "shards").mkdir(parents=True)
    write_records(root / "train.jsonl", chats(30))
    write_records(root / "eval.jsonl", chats(5, prefix="held out"))
    write_records(root / "prod.jsonl", chats(5, prefix="production"))
    for k in range(2):
        write_records(root / "shards" / f"train-{k}.jsonl", chats(15, prefix=f"shard {k}"))
    (root / "link.jsonl").symlink_to(root / "train.jsonl")
    os.link(root / "train.jsonl", root / "hard.jsonl")
    return root


def _target(inputs: Path, which: str) -> tuple[list[str], str]:
    """(inputs of the audit, the output path that names one of them)."""
    train = str(inputs / "train.jsonl")
    return {
        "data": ([train], train),
        "second_data": ([train, str(inputs / "eval.jsonl")], str(inputs / "eval.jsonl")),
        "eval": ([train, "--eval", str(inputs / "eval.jsonl")], str(inputs / "eval.jsonl")),
        "production": ([train, "--production", str(inputs / "prod.jsonl")], str(inputs / "prod.jsonl")),
        "symlink_to_data": ([train], str(inputs / "link.jsonl")),
        "data_through_symlink": ([str(inputs / "link.jsonl")], train),
        "hard_link": ([train], str(inputs / "hard.jsonl")),
        "shard_of_glob": ([str(inputs / "shards" / "train-*.jsonl")], str(inputs / "shards" / "train-1.jsonl")),
        "new_file_in_shard_folder": ([str(inputs / "shards")], str(inputs / "shards" / "report.jsonl")),
        "dotted_path": ([train], str(inputs / "shards" / ".." / "train.jsonl")),
    }[which]


CASES = ["data", "second_data", "eval", "production", "symlink_to_data", "data_through_symlink", "hard_link",
         "shard_of_glob", "new_file_in_shard_folder", "dotted_path"]


@pytest.mark.parametrize("option", REPORTS)
@pytest.mark.parametrize("which", CASES)
def test_report_never_replaces_an_input(option: str, which: str, inputs: Path,
                                        run_cli: Callable[..., CliResult]) -> None:
    args, target = _target(inputs, which)
    before = snapshot(inputs)
    result = run_cli("audit", *args, option, target, "--only", "size", "-q", "--no-cache")
    assert result.exit_code == 2 and option in result.stderr, result.stderr
    assert snapshot(inputs) == before
    assert not (inputs / "shards" / "report.jsonl").exists()


def test_save_to_disk_folder_file_is_refused(tmp_path: Path, run_cli: Callable[..., CliResult]) -> None:
    import datasets

    folder = tmp_path / "saved"
    datasets.Dataset.from_list(chats(30)).save_to_disk(str(folder))
    before = snapshot(folder)
    for target in (folder / "state.json", folder / "new-report.json"):
        result = run_cli("audit", str(folder), "--json", str(target), "--only", "size", "-q", "--no-cache")
        assert result.exit_code == 2, result.stderr
    assert snapshot(folder) == before and not (folder / "new-report.json").exists()


@pytest.mark.parametrize("args", [
    ["sample", "{train}", "-n", "3", "--out", "{train}"],
    ["sample", "{train}", "-n", "3", "--out", "{link}"],
    ["dedup", "{train}", "--out", "{train}"],
    ["dedup", "{train}", "--out", "{link}"],
    ["dedup", "{sidecar}", "--out", "{train}"],  # would write its sidecar over its own input
])
def test_sample_and_dedup_never_replace_their_input(args: list[str], inputs: Path,
                                                    run_cli: Callable[..., CliResult]) -> None:
    (inputs / "train.jsonl.removed.jsonl").write_bytes((inputs / "train.jsonl").read_bytes())
    names = {"train": inputs / "train.jsonl", "link": inputs / "link.jsonl",
             "sidecar": inputs / "train.jsonl.removed.jsonl"}
    before = snapshot(inputs)
    result = run_cli(*[a.format(**names) for a in args])
    assert result.exit_code == 2 and "input" in result.stderr, result.stderr
    assert snapshot(inputs) == before


def test_sample_refuses_a_format_it_does_not_write(inputs: Path, run_cli: Callable[..., CliResult],
                                                   tmp_path: Path) -> None:
    result = run_cli("sample", str(inputs / "train.jsonl"), "-n", "3", "--out", str(tmp_path / "s.csv"))
    assert result.exit_code == 2 and not (tmp_path / "s.csv").exists()


def test_reports_are_written_whole_with_no_temporary_left(inputs: Path, tmp_path: Path,
                                                          run_cli: Callable[..., CliResult]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli("audit", str(inputs / "train.jsonl"), "--only", "size", "-q", "--no-cache",
                     *[x for opt, name in zip(REPORTS, ("r.json", "r.html", "r.md", "r.xml"))
                       for x in (opt, str(out / name))])
    assert result.exit_code == 1  # 30 records: size fails; the reports are written all the same
    assert sorted(p.name for p in out.iterdir()) == ["r.html", "r.json", "r.md", "r.xml"]


def test_report_over_a_planted_link_replaces_the_link_not_its_target(inputs: Path, tmp_path: Path,
                                                                     run_cli: Callable[..., CliResult]) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (tmp_path / "report.json").symlink_to(victim)
    assert run_cli("audit", str(inputs / "train.jsonl"), "--json", str(tmp_path / "report.json"),
                   "--only", "size", "-q", "--no-cache").exit_code == 1
    assert victim.read_text() == "keep me\n" and not (tmp_path / "report.json").is_symlink()


def _limited(limit: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))  # Python ignores SIGXFSZ: EFBIG
    return apply


def test_full_disk_names_the_path_and_leaves_no_temporary(tmp_path: Path) -> None:
    """A write the file system refuses (here the file size limit: EFBIG, as ENOSPC would be) is a
    FineauditError naming the path, the old file kept, the temporary file removed."""
    target = tmp_path / "report.json"
    target.write_text("old\n")
    code = ("from fineaudit.commands.output_paths import write_atomically\n"
            f"write_atomically({str(target)!r}, b'x' * 1_000_000)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, preexec_fn=_limited(100_000))
    assert done.returncode != 0 and "FineauditError" in done.stderr and str(target) in done.stderr
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["report.json"]


def _cli_limited(args: list[str], cwd: Path, limit: int, tmpdir: Path) -> subprocess.CompletedProcess[str]:
    code = "from fineaudit.cli import main; raise SystemExit(main())"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "TMPDIR": str(tmpdir)},
                          preexec_fn=_limited(limit))


def test_full_disk_writing_the_report_is_exit_2_naming_the_path(tmp_path: Path) -> None:
    # 300 malformed lines: a spool smaller than the report of a finding per line
    data = tmp_path / "bad.jsonl"
    data.write_text("".join(f"{{bad json number {i} here\n" for i in range(300)))
    out, spool = tmp_path / "out", tmp_path / "spool"
    out.mkdir(), spool.mkdir()
    args = ["audit", str(data), "--format", "chat", "--only", "size,format", "-q", "--no-cache",
            "--max-findings", "0", "--json", str(out / "r.json")]
    done = _cli_limited(args, tmp_path, 85_000, spool)  # the spool needs about 65 KB, the report 97 KB
    assert done.returncode == 2, done.stderr
    assert str(out / "r.json") in done.stderr and "internal error" not in done.stderr
    assert list(out.iterdir()) == [] and list(spool.iterdir()) == []


def test_full_disk_while_spooling_is_exit_2_naming_the_folder(inputs: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    done = _cli_limited(["audit", str(inputs / "train.jsonl"), "--only", "size", "-q", "--no-cache"],
                        tmp_path, 4_000, spool)
    assert done.returncode == 2 and str(spool) in done.stderr and "internal error" not in done.stderr, done.stderr
    assert list(spool.iterdir()) == []


def test_write_atomically_error_is_a_fineaudit_error(tmp_path: Path) -> None:
    with pytest.raises(FineauditError, match="missing"):
        write_atomically(tmp_path / "missing" / "r.json", b"{}")


def test_device_and_pipe_outputs_are_written_in_place(inputs: Path, tmp_path: Path,
                                                      run_cli: Callable[..., CliResult]) -> None:
    """`--json /dev/null` and a pipe (`--json >(jq .)`) are written to, never renamed over."""
    if not Path(os.devnull).is_char_device():
        pytest.skip(f"{os.devnull} is not a device on this machine (something replaced it)")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    result = run_cli("audit", str(inputs / "train.jsonl"), "--only", "size", "-q", "--no-cache",
                     "--json", str(fifo), "--markdown", os.devnull)
    received = reader.communicate(timeout=60)[0]
    assert result.exit_code == 1 and b'"schema_version"' in received
    assert Path(os.devnull).is_char_device() and fifo.is_fifo()
