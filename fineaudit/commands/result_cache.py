"""Audit results cached by file content, config and code, so an unchanged file costs nothing.

This is what makes the pre-commit hook cheap: a commit that does not touch a data file finds
its report here. The key is a hash of everything the report depends on: every file of every
input (train, eval, production; each file of a shard glob, shard folder or `save_to_disk`
folder), every file a setting names (`format.output_schema`, a local `length.tokenizer`, a
local `drift.embedding_model`: the fields marked `path`), the config file itself, the resolved
config, the checks selected, and the fineaudit version together with the source of fineaudit
and of every registered checker (so a checker edited in place, or a plugin upgraded, misses).

A cache folder can hold files the user never wrote (committed into a data repository, planted
by another account), so an entry is trusted only when it is a small regular file (not a link,
FIFO or device), owned by this user, not writable by group or others, and its keyed digest
(HMAC-SHA256 with a secret kept in the user's cache folder) matches: a JSON file placed there
cannot make a bad dataset pass. Anything else is a miss, never an error. Entries and temporary
files are opened without following links, temporary names are random and created exclusively.

The cache lives in $FINEAUDIT_CACHE_DIR, else `.fineaudit_cache/` at the root of the git
repository around the working directory (else in the working directory). It ignores itself
in git, like `.pytest_cache`.
"""
from __future__ import annotations

import dataclasses
import errno
import glob
import hashlib
import hmac
import inspect
import json
import os
import re
import secrets
import stat
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from fineaudit.config import Config
from fineaudit.core import CheckResult, DatasetInfo, Finding, Report, Shard, Status, json_default

CACHE_ENV = "FINEAUDIT_CACHE_DIR"
KEY_DIR_ENV = "FINEAUDIT_KEY_DIR"  # where the per-user secret lives (default: the user's cache folder)
CACHE_DIRNAME = ".fineaudit_cache"
MAX_ENTRIES = 512  # oldest entries beyond this are removed on write
MAX_ENTRY_BYTES = 64 << 20  # a larger "entry" is not ours: a miss, never read
FORMAT_VERSION = 2  # of the cache entry itself (2: keyed digest on its first line)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # opening a planted FIFO must not wait for a writer
_ENTRY_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")


def default_cache_dir(start: Path | None = None) -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder / CACHE_DIRNAME
    return here / CACHE_DIRNAME


def key_dir() -> Path:
    if os.environ.get(KEY_DIR_ENV):
        return Path(os.environ[KEY_DIR_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fineaudit"


class ResultCache:
    def __init__(self, directory: Path | None = None):
        self.directory = directory or default_cache_dir()

    def key(self, data: str, config: Config, *, eval: str | None = None,
            production: str | None = None, only: Iterable[str] | None = None,
            skip: Iterable[str] | None = None) -> str:
        """A hash of everything the report of `data` depends on (reads every input file once)."""
        parts = {"entry": FORMAT_VERSION, "code": code_fingerprint(),
                 "config": config_fingerprint(config),
                 "config_file": files_fingerprint(config.path) if config.path else None,
                 "setting_files": setting_files_fingerprint(config),
                 "only": sorted(only or []), "skip": sorted(skip or []),
                 "inputs": {role: files_fingerprint(path)
                            for role, path in (("data", data), ("eval", eval), ("production", production))
                            if path is not None}}
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()

    def get(self, key: str) -> Report | None:
        """The cached report, or None: missing, untrusted, damaged or unreadable are all a miss."""
        try:
            secret = user_secret(create=False)
            if secret is None or not _ENTRY_NAME.fullmatch(key) or not self._trusted_folder():
                return None
            body = _read_trusted(self._entry(key), secret, key)
            if body is None:
                return None
            entry = json.loads(body)
            return report_from_dict(entry["report"], entry.get("fail_on", "fail"), entry.get("shards", []))
        except Exception:  # noqa: BLE001 - RecursionError, MemoryError-sized junk, odd types: a miss
            return None

    def put(self, key: str, report: Report) -> None:
        if not _ENTRY_NAME.fullmatch(key):
            raise ValueError(f"not a cache key: {key!r}")
        secret = user_secret(create=True)
        if secret is None:
            raise OSError(errno.EPERM, "the per-user cache key is not private", str(key_dir()))
        self._make_folder()
        entry = {"report": report.to_dict(), "fail_on": report.fail_on,
                 "shards": [[s.path, s.first_index] for s in report.dataset.shards]}
        body = json.dumps(entry, ensure_ascii=False, default=json_default).encode("utf-8", "replace")
        seal = _seal(secret, key, body)
        write_private(self._entry(key), seal.encode() + b"\n" + body)
        self._prune()

    def _entry(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def _trusted_folder(self) -> bool:
        """A cache folder that is a link, or writable by others, is not used at all."""
        try:
            info = os.lstat(self.directory)
        except OSError:
            return False
        return stat.S_ISDIR(info.st_mode) and _owned_private(info)

    def _make_folder(self) -> None:
        try:
            os.mkdir(self.directory, 0o700)
        except FileExistsError:
            pass
        if not self._trusted_folder():
            raise OSError(errno.EPERM, "not a private folder of this user (a link, or writable by others)",
                          str(self.directory))
        ignore = self.directory / ".gitignore"
        try:
            fd = os.open(ignore, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
        except FileExistsError:
            return  # whatever is there (a link included) is left alone, never written through
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("# created by fineaudit\n*\n")

    def _prune(self) -> None:
        entries = []
        with os.scandir(self.directory) as found:
            for item in found:
                if item.name.endswith(".json") and item.is_file(follow_symlinks=False):
                    entries.append((item.stat(follow_symlinks=False).st_mtime, item.path))
        for _, stale in sorted(entries, reverse=True)[MAX_ENTRIES:]:
            Path(stale).unlink(missing_ok=True)  # unlink never follows a link


# --------------------------------------------------------------------------- trust


def _owned_private(info: os.stat_result) -> bool:
    """Owned by this user and not writable by group or others."""
    if not hasattr(os, "geteuid"):
        return True  # Windows: no owner bits to check
    return info.st_uid == os.geteuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _seal(secret: bytes, key: str, body: bytes) -> str:
    # the key is sealed too: an entry copied under another key's name does not verify
    return hmac.new(secret, key.encode() + b"\n" + body, hashlib.sha256).hexdigest()


def _read_trusted(path: Path, secret: bytes, key: str) -> bytes | None:
    blob = read_private(path, MAX_ENTRY_BYTES)
    if blob is None:
        return None
    seal, _, body = blob.partition(b"\n")
    if not hmac.compare_digest(seal, _seal(secret, key, body).encode()):
        return None
    return body


def read_private(path: Path, limit: int) -> bytes | None:
    """The bytes of a small regular file of this user, not writable by others, opened without
    following links and without blocking; None for anything else."""
    try:
        before = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(before.st_mode) or not _owned_private(before) or before.st_size > limit:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino) or not stat.S_ISREG(now.st_mode):
            return None  # swapped between the look and the open
        blob = fh.read(limit + 1)
        if len(blob) > limit:
            return None
        if hasattr(os, "utime") and os.utime in os.supports_fd:
            os.utime(fd)  # recently used entries survive pruning
    return blob


def write_private(target: Path, blob: bytes) -> None:
    """Write through a random temporary name in the same folder, created exclusively and without
    following links, then rename over target (rename replaces a planted link, never follows it)."""
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def user_secret(create: bool) -> bytes | None:
    """The per-user key of the entries' digests: 32 random bytes in a 0600 file in the user's cache
    folder, read without following links. None when it is missing (and not created) or not private."""
    folder = key_dir()
    path = folder / "result-cache.key"
    blob = read_private(path, 1024)
    if blob is not None:
        info = os.lstat(path)
        private = not hasattr(os, "geteuid") or not info.st_mode & 0o077
        return blob if private and len(blob) >= 32 else None
    if not create or os.path.lexists(path):
        return None
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        write_private(path, secrets.token_bytes(32))
    except FileExistsError:
        pass
    return user_secret(create=False)


# --------------------------------------------------------------------------- what the key covers


def input_files(spec: str) -> list[Path]:
    """The files an input path stands for, as the loaders read them: the file; every file under a
    folder (shards, or a `save_to_disk` folder's Arrow and state files); a glob's matches."""
    path = Path(spec)
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if not p.is_dir())
    if path.exists() or path.is_symlink() or not any(ch in spec for ch in "*?["):
        return [path]
    return sorted(Path(p) for p in glob.glob(spec))


def files_fingerprint(spec: str) -> dict[str, Any]:
    """Each file's name, size, mtime and content digest; a missing or special file is marked
    (never opened: a FIFO would block), and the audit itself then says what is wrong with it."""
    return {"path": spec, "files": [[str(f), *_file_fingerprint(f)] for f in input_files(spec)]}


def _file_fingerprint(path: Path) -> list[Any]:
    try:
        info = path.stat()
    except OSError:
        return ["missing"]
    if not stat.S_ISREG(info.st_mode):
        return ["special", stat.S_IFMT(info.st_mode)]
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        return ["unreadable", exc.errno]
    return [info.st_size, info.st_mtime_ns, digest.hexdigest()]


def setting_files_fingerprint(config: Config) -> dict[str, Any]:
    """The files named by settings marked `path` (output schema, tokenizer, embedding model)."""
    out: dict[str, Any] = {}
    for name, settings in sorted(config.checks.items()):
        params = settings.params
        if not dataclasses.is_dataclass(params):
            continue
        for f in dataclasses.fields(params):
            value = getattr(params, f.name)
            if f.metadata.get("path") and isinstance(value, str) and value and os.path.lexists(value):
                out[f"{name}.{f.name}"] = files_fingerprint(value)
    return out


def config_fingerprint(config: Config) -> dict[str, Any]:
    data = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
            if f.name not in ("checks", "path")}
    data["checks"] = {name: {"enabled": s.enabled, "blocking": s.blocking,
                             "params": dataclasses.asdict(s.params)
                             if dataclasses.is_dataclass(s.params) and not isinstance(s.params, type)
                             else repr(s.params)}
                      for name, s in sorted(config.checks.items())}
    return data


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """The fineaudit version and a hash of the fineaudit sources and every registered checker."""
    import fineaudit
    from fineaudit.audit import version
    from fineaudit.registry import load_checkers

    files = set(Path(fineaudit.__file__).parent.rglob("*.py"))
    for cls in load_checkers().values():
        source = inspect.getsourcefile(cls)
        if source:
            files.add(Path(source))
    digest = hashlib.sha256(version().encode())
    for file in sorted(files):
        digest.update(str(file.name).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------- report from JSON


def report_from_dict(doc: Mapping[str, Any], fail_on: str = "fail",
                     shards: Iterable[Iterable[Any]] = ()) -> Report:
    ds = doc["dataset"]
    dataset = DatasetInfo(path=ds["path"], records=ds["records"], format=ds["format"],
                          sha256=ds["sha256"], shards=tuple(Shard(str(p), int(i)) for p, i in shards))
    checks = {c["name"]: _check_from_dict(c) for c in doc["checks"]}
    return Report(dataset=dataset, checks=checks, verdict=doc["verdict"], score=float(doc["score"]),
                  fail_on=fail_on, inputs=dict(doc["inputs"]), created=doc["created"],
                  fineaudit_version=doc["fineaudit_version"])


def _check_from_dict(c: Mapping[str, Any]) -> CheckResult:
    findings = tuple(Finding(code=f["code"], message=f["message"], records=tuple(f["records"]),
                             line=f["line"], field=f["field"], source=f["source"]) for f in c["findings"])
    return CheckResult(name=c["name"], status=Status(c["status"]), summary=c["summary"],
                       metrics=c["metrics"], thresholds=c["thresholds"], findings=findings,
                       score=float(c["score"]), blocking=bool(c["blocking"]),
                       findings_total=int(c["findings_total"]), duration_s=float(c["duration_s"]))


__all__ = ["ResultCache", "default_cache_dir", "report_from_dict", "code_fingerprint", "files_fingerprint",
           "read_private", "write_private", "user_secret"]
