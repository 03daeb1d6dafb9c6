"""Audit results cached by file content, config and code, so an unchanged file costs nothing.

This is what makes the pre-commit hook cheap: a commit that does not touch a data file finds
its report here. The key is a hash of everything the report depends on: the bytes of every
input (train, eval, production), the resolved config, the checks selected, and the fineaudit
version together with the source of fineaudit and of every registered checker (so a checker
edited in place, or a plugin upgraded, misses the cache instead of serving a stale verdict).

The cache lives in $FINEAUDIT_CACHE_DIR, else `.fineaudit_cache/` at the root of the git
repository around the working directory (else in the working directory). It ignores itself
in git, like `.pytest_cache`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import os
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from fineaudit.config import Config
from fineaudit.core import CheckResult, DatasetInfo, Finding, Report, Shard, Status, json_default

CACHE_ENV = "FINEAUDIT_CACHE_DIR"
CACHE_DIRNAME = ".fineaudit_cache"
MAX_ENTRIES = 512  # oldest entries beyond this are removed on write
FORMAT_VERSION = 1  # of the cache entry itself


def default_cache_dir(start: Path | None = None) -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder / CACHE_DIRNAME
    return here / CACHE_DIRNAME


class ResultCache:
    def __init__(self, directory: Path | None = None):
        self.directory = directory or default_cache_dir()

    def key(self, data: str, config: Config, *, eval: str | None = None,
            production: str | None = None, only: Iterable[str] | None = None,
            skip: Iterable[str] | None = None) -> str:
        """A hash of everything the report of `data` depends on (reads the inputs once)."""
        parts = {"entry": FORMAT_VERSION, "code": code_fingerprint(),
                 "config": config_fingerprint(config),
                 "only": sorted(only or []), "skip": sorted(skip or []),
                 "inputs": {role: _input_fingerprint(path)
                            for role, path in (("data", data), ("eval", eval), ("production", production))
                            if path is not None}}
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()

    def get(self, key: str) -> Report | None:
        path = self._entry(key)
        try:
            entry = json.loads(path.read_text("utf-8"))
            report = report_from_dict(entry["report"], entry.get("fail_on", "fail"), entry.get("shards", []))
        except (OSError, ValueError, KeyError, TypeError):
            return None  # missing or damaged: audit again
        os.utime(path)  # recently used entries survive pruning
        return report

    def put(self, key: str, report: Report) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        ignore = self.directory / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# created by fineaudit\n*\n", encoding="utf-8")
        entry = {"report": report.to_dict(), "fail_on": report.fail_on,
                 "shards": [[s.path, s.first_index] for s in report.dataset.shards]}
        target = self._entry(key)
        tmp = target.with_name(f".{target.name}.{os.getpid()}")
        tmp.write_text(json.dumps(entry, ensure_ascii=False, default=json_default), "utf-8", "replace")
        tmp.replace(target)  # atomic: a concurrent reader sees the old entry or the new one
        self._prune()

    def _entry(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def _prune(self) -> None:
        entries = sorted(self.directory.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in entries[MAX_ENTRIES:]:
            stale.unlink(missing_ok=True)


def _input_fingerprint(path: str) -> dict[str, Any]:
    from fineaudit.loaders import open_source

    source = open_source(path)
    return {"path": path, "files": [str(f) for f in source.files], "sha256": source.sha256()}


def config_fingerprint(config: Config) -> dict[str, Any]:
    data = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
            if f.name not in ("checks", "path")}
    data["checks"] = {name: {"enabled": s.enabled, "blocking": s.blocking,
                             "params": dataclasses.asdict(s.params) if dataclasses.is_dataclass(s.params)
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


__all__ = ["ResultCache", "default_cache_dir", "report_from_dict", "code_fingerprint"]
