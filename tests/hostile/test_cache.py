"""The result cache under attack and after change: a cached verdict always equals `--no-cache`,
and nothing placed in the cache folder makes a flawed dataset pass (a miss, never an error)."""
from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliResult
from tests.hostile._inputs import chats, cli_subprocess, snapshot, write_records

ONLY = ("--only", "size,format", "--set", "size.min_records=25", "-q")


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FINEAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("FINEAUDIT_KEY_DIR", str(tmp_path / "key"))
    return tmp_path / "cache"


@pytest.fixture
def no_hang() -> Iterator[None]:
    """A planted FIFO must not block: the case fails (instead of hanging the suite) after 60 s."""
    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError("the audit hung on a planted cache entry")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def entries(folder: Path) -> set[Path]:
    return set(folder.glob("*.json")) if folder.is_dir() else set()


def cached(result: CliResult) -> bool:
    return "(cached" in result.stdout


# --------------------------------------------------------------------------- every input, in turn


def _tokenizer(path: Path, per_char: bool) -> Path:
    """A word-level tokenizer.json: one token per word, or (changed) one token per character."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    tok.pre_tokenizer = (pre_tokenizers.Split(Regex("."), behavior="isolated") if per_char
                         else pre_tokenizers.WhitespaceSplit())
    tok.save(str(path))
    return path


def _save_to_disk(folder: Path, n: int) -> None:
    import datasets

    if folder.exists():
        shutil.rmtree(folder)
    datasets.Dataset.from_list(chats(n)).save_to_disk(str(folder))


def _json_answers(n: int) -> list[dict[str, Any]]:
    return [{"messages": [{"role": "user", "content": f"give record {i} as JSON"},
                          {"role": "assistant", "content": json.dumps({"answer": f"value {i}"})}]}
            for i in range(n)]


def _setup(case: str, root: Path) -> tuple[list[str], Callable[[], None]]:
    """(CLI arguments of a passing audit, a change of one input that makes it fail)."""
    data = write_records(root / "train.jsonl", chats(30))
    if case == "data":
        return [str(data), *ONLY], lambda: write_records(data, chats(10))
    if case == "save_to_disk":
        _save_to_disk(root / "saved", 30)
        return [str(root / "saved"), *ONLY], lambda: _save_to_disk(root / "saved", 10)
    if case == "output_schema":
        write_records(data, _json_answers(30))
        schema = root / "schema.json"
        schema.write_text(json.dumps({"type": "object", "properties": {"answer": {"type": "string"}}}))
        strict = {"type": "object", "required": ["missing"]}
        return ([str(data), *ONLY, "--set", f"format.output_schema={json.dumps(str(schema))}"],
                lambda: schema.write_text(json.dumps(strict)))
    if case == "tokenizer":
        tok = _tokenizer(root / "tokenizer.json", per_char=False)
        return ([str(data), "--only", "size,format,length", "--set", "size.min_records=25", "-q",
                 "--set", f"length.tokenizer={json.dumps(str(tok))}", "--set", "length.max_length=40"],
                lambda: _tokenizer(tok, per_char=True))
    if case == "config_file":
        config = root / "fineaudit.toml"
        config.write_text("[checks.size]\nmin_records = 25\n")
        return ([str(data), "--only", "size,format", "-q", "--config", str(config)],
                lambda: config.write_text("[checks.size]\nmin_records = 40\n"))
    assert case == "eval"
    evals = write_records(root / "eval.jsonl", chats(5, prefix="held out"))
    return ([str(data), *ONLY, "--only", "size,format,leakage", "--eval", str(evals)],
            lambda: write_records(evals, chats(5)))


@pytest.mark.parametrize("case", ["data", "save_to_disk", "output_schema", "tokenizer", "config_file", "eval"])
def test_cached_verdict_follows_no_cache_when_an_input_changes(case: str, tmp_path: Path, cache_dir: Path,
                                                               run_cli: Callable[..., CliResult]) -> None:
    args, change = _setup(case, tmp_path)
    env = {"FINEAUDIT_CACHE_DIR": str(cache_dir), "FINEAUDIT_KEY_DIR": str(tmp_path / "key")}

    def run(*extra: str) -> CliResult:
        if case != "tokenizer":
            return run_cli("audit", *args, *extra)
        # a tokenizer is loaded once per process: only a new process sees the file change
        done = cli_subprocess("audit", *args, *extra, cwd=tmp_path, env=env)
        return CliResult(done.returncode, done.stdout, done.stderr)

    first, again = run(), run()
    assert (first.exit_code, again.exit_code) == (0, 0), first.stderr + first.stdout + again.stderr
    assert cached(again) and not cached(first)
    change()
    fresh, served = run("--no-cache"), run()
    assert fresh.exit_code == 1, fresh.stderr + fresh.stdout
    assert served.exit_code == fresh.exit_code and not cached(served)


# --------------------------------------------------------------------------- planted entries


@pytest.fixture
def flawed(tmp_path: Path) -> Path:
    return write_records(tmp_path / "flawed.jsonl", chats(10))  # fails size.min_records=25


def _flawed_key(run_cli: Callable[..., CliResult], flawed: Path, cache_dir: Path) -> Path:
    before = entries(cache_dir)
    assert run_cli("audit", str(flawed), *ONLY).exit_code == 1
    (entry,) = entries(cache_dir) - before
    return entry


def _genuine_pass(run_cli: Callable[..., CliResult], tmp_path: Path, cache_dir: Path) -> tuple[Path, Path]:
    clean = write_records(tmp_path / "clean.jsonl", chats(30))
    before = entries(cache_dir)
    assert run_cli("audit", str(clean), *ONLY).exit_code == 0
    (entry,) = entries(cache_dir) - before
    return clean, entry


def _plant(kind: str, target: Path, genuine: Path, tmp_path: Path) -> None:
    target.unlink()
    if kind == "replayed_pass":  # a real, sealed passing entry copied under the flawed key
        shutil.copyfile(genuine, target)
        os.chmod(target, 0o600)
    elif kind == "unsealed_pass":  # the entry format before sealing: a bare report
        body = genuine.read_bytes().partition(b"\n")[2]
        target.write_bytes(body)
        os.chmod(target, 0o600)
    elif kind == "forged_seal":
        target.write_bytes(b"0" * 64 + b"\n" + genuine.read_bytes().partition(b"\n")[2])
        os.chmod(target, 0o600)
    elif kind == "fifo":
        os.mkfifo(target, 0o600)
    elif kind == "link_to_dev_zero":
        target.symlink_to("/dev/zero")
    elif kind == "link_to_genuine":
        target.symlink_to(genuine)
    elif kind == "deeply_nested":
        target.write_text("[" * 200_000 + "]" * 200_000)
        os.chmod(target, 0o600)
    elif kind == "huge":
        with open(target, "wb") as fh:
            fh.truncate(200 << 20)  # sparse: 200 MB of NULs
    elif kind == "folder":
        target.mkdir()
    else:
        raise AssertionError(kind)


PLANTED = ["replayed_pass", "unsealed_pass", "forged_seal", "fifo", "link_to_dev_zero", "link_to_genuine",
           "deeply_nested", "huge", "folder"]


@pytest.mark.parametrize("kind", PLANTED)
def test_planted_entry_never_passes_flawed_data(kind: str, run_cli: Callable[..., CliResult], flawed: Path,
                                                tmp_path: Path, cache_dir: Path, no_hang: None) -> None:
    clean, genuine = _genuine_pass(run_cli, tmp_path, cache_dir)
    target = _flawed_key(run_cli, flawed, cache_dir)
    inputs = snapshot(flawed, clean)
    _plant(kind, target, genuine, tmp_path)
    result = run_cli("audit", str(flawed), *ONLY)
    assert result.exit_code == 1 and not cached(result), result.stderr
    assert "internal error" not in result.stderr
    assert snapshot(flawed, clean) == inputs


@pytest.mark.parametrize("change", ["group_writable", "world_writable", "other_owner"])
def test_genuine_entry_with_loose_ownership_is_a_miss(change: str, run_cli: Callable[..., CliResult],
                                                      tmp_path: Path, cache_dir: Path) -> None:
    clean, entry = _genuine_pass(run_cli, tmp_path, cache_dir)
    assert cached(run_cli("audit", str(clean), *ONLY))
    if change == "other_owner":
        if os.geteuid() != 0:
            pytest.skip("changing a file's owner needs root")
        os.chown(entry, 4242, -1)
    else:
        os.chmod(entry, 0o620 if change == "group_writable" else 0o602)
    result = run_cli("audit", str(clean), *ONLY)
    assert result.exit_code == 0 and not cached(result)


def test_cache_folder_that_is_a_link_is_not_used(run_cli: Callable[..., CliResult], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "cache").symlink_to(elsewhere)
    monkeypatch.setenv("FINEAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("FINEAUDIT_KEY_DIR", str(tmp_path / "key"))
    clean = write_records(tmp_path / "clean.jsonl", chats(30))
    first, second = run_cli("audit", str(clean), *ONLY), run_cli("audit", str(clean), *ONLY)
    assert (first.exit_code, second.exit_code) == (0, 0) and not cached(second)
    assert list(elsewhere.iterdir()) == []
    assert "result cache not written" in first.stderr


def test_planted_gitignore_link_is_not_written_through(run_cli: Callable[..., CliResult], tmp_path: Path,
                                                       cache_dir: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    cache_dir.mkdir(mode=0o700)
    (cache_dir / ".gitignore").symlink_to(victim)
    clean = write_records(tmp_path / "clean.jsonl", chats(30))
    assert run_cli("audit", str(clean), *ONLY).exit_code == 0
    assert victim.read_text() == "keep me\n"
    assert cached(run_cli("audit", str(clean), *ONLY))


def test_key_file_readable_by_others_disables_the_cache(run_cli: Callable[..., CliResult], tmp_path: Path,
                                                        cache_dir: Path) -> None:
    clean, _ = _genuine_pass(run_cli, tmp_path, cache_dir)
    os.chmod(tmp_path / "key" / "result-cache.key", 0o644)
    result = run_cli("audit", str(clean), *ONLY)
    assert result.exit_code == 0 and not cached(result)


def test_entries_and_key_are_private(run_cli: Callable[..., CliResult], tmp_path: Path, cache_dir: Path) -> None:
    _, entry = _genuine_pass(run_cli, tmp_path, cache_dir)
    assert entry.stat().st_mode & 0o077 == 0
    assert (tmp_path / "key" / "result-cache.key").stat().st_mode & 0o077 == 0
    assert not [p for p in cache_dir.iterdir() if p.name.endswith(".tmp")]  # no temporary left


def test_embedding_model_folder_is_in_the_key(tmp_path: Path) -> None:
    """Every file a `path` setting names is fingerprinted: a local model folder edited in place
    changes the key (shown on the key: a drift audit needs the model and a production set)."""
    from fineaudit.audit import resolve_config
    from fineaudit.commands.result_cache import ResultCache

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"weights-1")
    data = write_records(tmp_path / "train.jsonl", chats(3))
    try:
        config = resolve_config(None, [f"drift.embedding_model={json.dumps(str(model))}"])
    except Exception as exc:  # noqa: BLE001 - the drift checker validates the folder as a model
        pytest.skip(f"drift refuses a stand-in model folder: {exc}")
    cache = ResultCache(tmp_path / "cache")
    before = cache.key(str(data), config)
    (model / "model.safetensors").write_bytes(b"weights-2")
    assert cache.key(str(data), config) != before
