"""Where fineaudit writes: never over an input, always whole or not at all.

An output path that names an input (the data, eval or production file, one of its shards, a
file inside a `save_to_disk` or shards folder; after resolving links, and hard links by inode)
is refused before any work. Every output is written through a temporary file in the target's
own folder (random name, created exclusively, links not followed) that is renamed into place:
a reader, a crash, a full disk or a signal leaves the old file or the new one, never half of
one, and never a temporary file behind.
"""
from __future__ import annotations

import glob
import os
import secrets
import stat
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from fineaudit.core import FineauditError

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def input_paths(specs: Iterable[str | None]) -> tuple[set[Path], set[Path], set[tuple[int, int]]]:
    """The resolved files and folders the inputs stand for, and the (device, inode) of each file."""
    files: set[Path] = set()
    folders: set[Path] = set()
    for spec in specs:
        if not spec:
            continue
        path = Path(spec)
        if path.is_dir():
            folders.add(path.resolve())
        elif path.exists() or not any(ch in spec for ch in "*?["):
            files.add(path.resolve())
        else:
            files.update(Path(p).resolve() for p in glob.glob(spec))
    inodes = set()
    for file in files:
        try:
            info = file.stat()
            inodes.add((info.st_dev, info.st_ino))
        except OSError:
            pass
    return files, folders, inodes


def refuse_inputs(outputs: Mapping[str, str | None], inputs: Iterable[str | None]) -> None:
    """Exit 2 (FineauditError) when an output would replace an input or land inside an input folder."""
    files, folders, inodes = input_paths(inputs)
    for option, target in outputs.items():
        if not target or target == "-":
            continue
        resolved = Path(target).resolve()
        inside = next((f for f in folders if resolved == f or f in resolved.parents), None)
        if resolved in files or _inode(resolved) in inodes:
            raise FineauditError(f"{option} {target}: is an input of this run; fineaudit never "
                                 "overwrites its input (choose another path)")
        if inside is not None:
            raise FineauditError(f"{option} {target}: is inside the input folder {inside}; writing there "
                                 "would change the dataset (choose a path outside it)")


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_dev, info.st_ino


def check_writable(target: str | None) -> None:
    """Fail before the work, not after it: the folder of an output must exist, and it must not be one."""
    if not target or target == "-":
        return
    path = Path(target)
    if path.is_dir():
        raise FineauditError(f"{target}: is a folder; give a file name")
    if not path.absolute().parent.is_dir():
        raise FineauditError(f"{target}: folder {path.absolute().parent} does not exist")


def write_atomically(target: str | Path, data: bytes) -> None:
    """Write `data` to target through a temporary file beside it, then rename: never half a file.
    An OSError (full disk, permissions) is a FineauditError naming the path; the temporary file
    is removed on any error, an interrupt included."""
    path = Path(target)
    if _is_stream(path):
        _write_stream(path, data)
        return
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666)  # umask applies
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())  # a full disk shows here, not after the rename
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise FineauditError(f"{target}: cannot write it ({exc.strerror or exc}); nothing was written") from None


def _is_stream(path: Path) -> bool:
    """/dev/null, /dev/stdout, a pipe from process substitution (`--json >(jq .)`): written in
    place; a rename would replace the device or pipe by a regular file."""
    try:
        return not stat.S_ISREG(path.stat().st_mode) and not path.is_dir()
    except OSError:
        return False


def _write_stream(path: Path, data: bytes) -> None:
    try:
        with open(path, "wb") as fh:
            fh.write(data)
    except OSError as exc:
        raise FineauditError(f"{path}: cannot write it ({exc.strerror or exc})") from None


def emit(target: str, text: str) -> None:
    """The text to stdout ('-') or, atomically, to a file."""
    if target == "-":
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
        return
    write_atomically(target, text.encode("utf-8", "replace"))  # lone surrogates from odd JSON


__all__ = ["check_writable", "emit", "input_paths", "refuse_inputs", "write_atomically"]
