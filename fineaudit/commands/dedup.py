"""`fineaudit dedup`: write a dataset without its exact and near duplicates.

The records to drop come from the duplicate family's shared functions (`exact_groups`, `near_clusters`),
so what `dedup` removes is exactly what `exact_duplicates` and `near_duplicates` report: every
member of a group or cluster but its first record. The output keeps the input's format (JSON
Lines lines are copied byte for byte, malformed ones included), is written to a temporary
file beside OUT and renamed into place, and a sidecar OUT.removed.jsonl says what went and why.

A group whose records carry different labels is a label conflict, not a duplicate to drop
silently: by default it is kept whole, listed in the sidecar (`"reason": "label_conflict"`,
`"removed": false`) and counted on stderr; `--set conflicting_labels.dedup_drops_conflicts=true`
drops its copies like any other (each such line then names both labels).
"""
from __future__ import annotations

import csv
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import orjson

from fineaudit.config import Config
from fineaudit.core import DatasetInfo, InputError, RecordBatch, Records, Shard
from fineaudit.vectors.duplicate_groups import exact_groups, near_clusters
from fineaudit.dataset.loaders import Source, open_source


@dataclass(frozen=True)
class Removal:
    index: int
    kept: int
    reason: str  # "exact" or "near"
    similarity: float


@dataclass
class Plan:
    """What a dedup does: the records it drops, and the groups whose labels differ."""

    dropped: dict[int, Removal]
    conflicts: list[tuple[int, ...]]  # kept whole unless drops_conflicts
    labels: dict[int, str | None]
    drops_conflicts: bool = False


def labels_batch(wanted: np.ndarray, batch: RecordBatch) -> dict[int, str | None]:
    index = np.asarray(batch.index, dtype=np.int64)
    return {int(index[r]): batch.label[r] for r in np.flatnonzero(np.isin(index, wanted))}


def duplicate_sets(data: Records, config: Config) -> list[tuple[str, tuple[int, ...], tuple[float, ...]]]:
    """(reason, members with the kept one first, similarity to it) of every exact group, then
    every near-duplicate cluster, as exact_duplicates and near_duplicates report them."""
    out: list[tuple[str, tuple[int, ...], tuple[float, ...]]] = []
    exact = config.checks.get("exact_duplicates")
    if exact is not None and exact.enabled:
        out += [("exact", tuple(g), (1.0,) * len(g)) for g in exact_groups(data, exact.params, desc="dedup: exact")]
    near = config.checks.get("near_duplicates")
    if near is not None and near.enabled:
        out += [("near", c.members, c.similarity) for c in near_clusters(data, near.params, config.seed)]
    return out


def plan(data: Records, config: Config) -> Plan:
    """Every record a dedup drops, by index (exact copies first, then near-duplicate members),
    except in groups whose labels differ, which are kept whole unless the config says otherwise."""
    sets = duplicate_sets(data, config)
    wanted = np.unique(np.asarray([i for _, members, _ in sets for i in members], dtype=np.int64))
    labels: dict[int, str | None] = {}
    for part in (data.map_batches(partial(labels_batch, wanted), desc=None) if len(wanted) else []):
        labels.update(part)
    conflicting = config.checks.get("conflicting_labels")
    drop_conflicts = bool(getattr(conflicting.params, "dedup_drops_conflicts", False)) if conflicting else False
    out = Plan({}, [], labels, drop_conflicts)
    listed: set[int] = set()
    for reason, members, similarity in sets:
        if len({labels.get(i) for i in members} - {None}) > 1:
            if not set(members) <= listed:  # a near cluster around an exact group already listed
                out.conflicts.append(members)
                listed.update(members)
            if not drop_conflicts:
                continue
        for i, sim in zip(members[1:], similarity[1:]):
            out.dropped.setdefault(i, Removal(i, members[0], reason, sim))
    return out


def removals(data: Records, config: Config) -> dict[int, Removal]:
    """Every record a dedup drops, by index: exact copies first, then near-duplicate members."""
    return plan(data, config).dropped


def _survivor(kept: int, removed: dict[int, Removal]) -> int:
    """An exact copy's kept record may itself be a near duplicate of another: name the one that stays."""
    while kept in removed:
        kept = removed[kept].kept
    return kept


def dedup_dataset(data: str, out: str, config: Config) -> str:
    """Write `data` without duplicates to `out` in its own format; returns a one-line summary.

    A single file goes to the file `out`; shards (a glob or a folder of them) are deduplicated
    together, as the one dataset the audit sees, and written as the same shards into the new
    folder `out`."""
    source = open_source(data, "data")
    if source.rows is not None:
        raise InputError("dedup reads files: give it a .jsonl, .json, .csv or .parquet file, or a "
                         "glob or folder of them (not a datasets save_to_disk folder)", data)
    dest = Path(out)
    _refuse_to_overwrite(source, dest, out)
    from fineaudit.engines import make_engine

    with make_engine("local", batch_size=config.batch_size, workers=config.workers or None,
                     max_record_bytes=config.max_record_bytes) as engine:
        layout = config.format if config.format != "auto" else source.detect_layout(options=config.read_options())
        records = engine.load(source, layout, "train", config.read_options())
        todo = plan(records, config)
        dropped = todo.dropped
        total, info = len(records), records.info
        named = np.unique(np.asarray([*dropped, *(_survivor(d.kept, dropped) for d in dropped.values()),
                                      *(i for group in todo.conflicts for i in group)], dtype=np.int64))
        found: dict[int, tuple[int | None, str]] = {}
        for part in records.map_batches(partial(lines_batch, named), desc="dedup: removed records"):
            found.update(part)
    if source.sharded:
        _write_shards(source.files, _shard_ranges(source.files, info.shards, total), dest, set(dropped))
    else:
        src = source.files[0]
        _write_atomically(dest, lambda fh: _WRITERS[src.suffix](src, fh, set(dropped)))
    sidecar = Path(f"{dest}.removed.jsonl")
    _write_atomically(sidecar, lambda fh: _write_sidecar(fh, todo, found, info))
    if todo.conflicts:
        _conflict_notice(todo, sidecar)
    exact = sum(1 for d in dropped.values() if d.reason == "exact")
    return (f"kept {total - len(dropped)} of {total} records: removed {exact} exact and "
            f"{len(dropped) - exact} near duplicates -> {dest} (removed records: {sidecar})")


def _conflict_notice(todo: Plan, sidecar: Path) -> None:
    """One line on stderr: duplicates whose labels differ are a labelling question for a person."""
    records = sum(len(g) for g in todo.conflicts)
    what = ("deduplicated anyway (dedup_drops_conflicts)" if todo.drops_conflicts
            else "kept whole (set conflicting_labels.dedup_drops_conflicts=true to drop their copies)")
    print(f"fineaudit dedup: {len(todo.conflicts)} duplicate group{'s' if len(todo.conflicts) != 1 else ''} "
          f"({records} records) have different labels: {what}; listed in {sidecar} as label_conflict",
          file=sys.stderr)


def _refuse_to_overwrite(source: Source, dest: Path, out: str) -> None:
    if not source.sharded:
        if dest.exists() and dest.resolve() == source.files[0].resolve():
            raise InputError("--out is the input file; dedup never overwrites its input", out)
        if dest.is_dir():
            raise InputError("--out is a folder; give the file to write", out)
        return
    folders = {f.parent.resolve() for f in source.files}
    if dest.absolute().parent.resolve() in folders or dest.resolve() in folders:
        # the sidecar (and the folder) would become shards of the dataset the next audit reads
        raise InputError("--out must not be inside the input's folder for sharded input", out)
    # rename() can only put a folder in place of a missing or empty one: that is the atomic step
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InputError("--out must be a new (or empty) folder for sharded input: dedup writes "
                         "the same shards there", out)


def _shard_ranges(files: list[Path], shards: tuple[Shard, ...], total: int) -> list[range]:
    """The record indices of each file (a file without records is in no shard: an empty range)."""
    first = {Path(s.path): s.first_index for s in shards}
    starts = sorted(first.values()) + [total]
    ends = {start: starts[k + 1] for k, start in enumerate(starts[:-1])}
    return [range(first[f], ends[first[f]]) if f in first else range(0) for f in files]


def _write_shards(files: list[Path], ranges: list[range], dest: Path, dropped: set[int]) -> None:
    """Each shard, without its dropped records, under the same relative name in a new folder."""
    root = Path(os.path.commonpath([f.parent for f in files]))
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        for src, indices in zip(files, ranges):
            target = tmp / src.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            local = {i - indices.start for i in dropped if i in indices}
            with open(target, "wb") as fh:
                _WRITERS[src.suffix](src, fh, local)
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; the output is an ordinary folder
        for target in tmp.rglob("*"):
            os.chmod(target, (0o777 if target.is_dir() else 0o666) & ~_umask())
        if dest.exists():
            dest.rmdir()  # empty, checked above
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_atomically(dest: Path, write: Any) -> None:
    """Write through a temporary file in dest's folder, then rename: never a half-written dest."""
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent or Path("."))
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; the output is an ordinary file
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def lines_batch(wanted: np.ndarray, batch: RecordBatch) -> dict[int, tuple[int | None, str]]:
    """(line, record as JSON text) of this batch's records listed in `wanted`."""
    index = np.asarray(batch.index, dtype=np.int64)
    return {int(index[r]): (batch.line[r], batch.raw[r]) for r in np.flatnonzero(np.isin(index, wanted))}


def _write_sidecar(fh: BinaryIO, todo: Plan, found: dict[int, tuple[int | None, str]], info: DatasetInfo) -> None:
    """One line per removed record: what it duplicated (`duplicate_of`, at `similarity`) and the
    record that stays in the output (`kept`: the same one, unless that was removed in turn);
    then one line per member of each group kept whole because its labels differ."""
    dropped = todo.dropped
    for i in sorted(dropped):
        d = dropped[i]
        kept = _survivor(d.kept, dropped)
        line, raw = found.get(i, (None, None))
        row = {"index": i, "file": info.file_of(i), "line": line, "reason": d.reason, "removed": True,
               "duplicate_of": d.kept, "similarity": d.similarity, "kept": kept,
               "record": raw, "kept_record": found.get(kept, (None, None))[1]}
        if todo.labels.get(i) != todo.labels.get(d.kept):
            row.update(label=todo.labels.get(i), kept_label=todo.labels.get(d.kept))
        fh.write(orjson.dumps(row) + b"\n")
    if todo.drops_conflicts:
        return  # dropped anyway: the lines above name both labels
    for group in todo.conflicts:
        for i in group:
            line, raw = found.get(i, (None, None))
            fh.write(orjson.dumps({"index": i, "file": info.file_of(i), "line": line, "reason": "label_conflict",
                                   "removed": i in dropped, "group": list(group), "label": todo.labels.get(i),
                                   "record": raw}) + b"\n")


def _jsonl(src: Path, fh: BinaryIO, dropped: set[int]) -> None:
    """Lines of kept records byte for byte; blank lines are not records and are dropped."""
    index = 0
    with open(src, "rb") as lines:
        for line in lines:
            if not line.strip():
                continue
            if index not in dropped:
                fh.write(line if line.endswith(b"\n") else line + b"\n")
            index += 1


def _json(src: Path, fh: BinaryIO, dropped: set[int]) -> None:
    try:
        value = orjson.loads(src.read_bytes())
    except orjson.JSONDecodeError:  # JSON Lines in a .json file, as the loader reads it
        return _jsonl(src, fh, dropped)
    if isinstance(value, dict):  # {"data": [...]} keeps its wrapper; a lone object is one record
        lists = [k for k, v in value.items() if isinstance(v, list)]
        if len(lists) == 1 and len(value) == 1:
            value = {lists[0]: [r for i, r in enumerate(value[lists[0]]) if i not in dropped]}
        elif 0 in dropped:
            value = []
    else:
        value = [r for i, r in enumerate(value) if i not in dropped]
    fh.write(orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n")


def _csv(src: Path, fh: BinaryIO, dropped: set[int]) -> None:
    with open(src, encoding="utf-8-sig", newline="") as text:
        rows = csv.reader(text)
        header = next(rows, None)
        out = _TextSink(fh)
        writer = csv.writer(out, lineterminator="\n")
        if header is not None:
            writer.writerow(header)
        writer.writerows(row for i, row in enumerate(_data_rows(rows)) if i not in dropped)


def _data_rows(rows: Iterator[list[str]]) -> Iterator[list[str]]:
    return (row for row in rows if row)  # csv.DictReader skips empty rows: so do the indices


def _parquet(src: Path, fh: BinaryIO, dropped: set[int]) -> None:
    import pyarrow.parquet as pq

    table = pq.read_table(src)
    keep = np.ones(table.num_rows, dtype=bool)
    keep[[i for i in dropped if i < table.num_rows]] = False
    pq.write_table(table.filter(keep), fh)


class _TextSink:
    """A text file view of a binary file handle, for csv.writer."""

    def __init__(self, fh: BinaryIO):
        self.fh = fh

    def write(self, text: str) -> int:
        return self.fh.write(text.encode("utf-8"))


_WRITERS = {".jsonl": _jsonl, ".json": _json, ".csv": _csv, ".parquet": _parquet}
