"""Hugging Face Hub datasets by name: `fineaudit audit org/name` loads through `datasets`.

A string that names nothing on disk and looks like a Hub repository id (`org/name`, no data-file
extension, no glob characters) is loaded with `datasets.load_dataset`, which reads its own cache
when offline (`HF_DATASETS_OFFLINE=1` / `HF_HUB_OFFLINE=1`). A local path always wins: a file or
folder called `org/name` is that file or folder. Without `split`, the whole DatasetDict comes back,
so its `train` split is audited and its `test`/`validation` split is the eval set, exactly as for a
DatasetDict object; with `split`, that split alone is audited.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from fineaudit.core import InputError
from fineaudit.dataset.loaders import FILE_SUFFIXES, Source, data_suffix

# the Hub's repository id: one namespace, one name (letters, digits, `-`, `_`, `.`)
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}")


def is_hub_name(data: Any) -> bool:
    """True for `org/name` strings that are not a local path (nor a data file's name)."""
    if not isinstance(data, str) or not _REPO_ID.fullmatch(data) or os.path.lexists(data):
        return False
    # `data/train.jsonl` that does not exist is a missing file, not a Hub repository
    return data_suffix(data) not in FILE_SUFFIXES and ".." not in data


def load_if_hub_name(data: Any, split: str | None = None, config_name: str | None = None,
                     revision: str | None = None) -> tuple[Any, str | None]:
    """(the loaded Dataset/DatasetDict, its name) for a Hub name; (data, None) for anything else."""
    if not is_hub_name(data):
        if split or config_name or revision:
            raise InputError("--split, --config-name and --revision apply to Hugging Face Hub "
                             "datasets (org/name) only", str(data))
        return data, None
    return load_hub(data, split=split, config_name=config_name, revision=revision), data


def load_hub(name: str, split: str | None = None, config_name: str | None = None,
             revision: str | None = None) -> Any:
    """datasets.load_dataset(name, ...), any failure an InputError of one line naming the dataset."""
    import datasets

    what = _describe(split, config_name, revision)
    try:
        with _quiet_libraries():
            return datasets.load_dataset(name, name=config_name, split=split, revision=revision)
    except (ConnectionError, FileNotFoundError) as exc:  # offline miss, unknown repo, no network
        raise InputError(f"no such file or folder, and as a {what} neither in the local datasets "
                         f"cache ({datasets.config.HF_DATASETS_CACHE}) nor reachable on the Hub "
                         f"({_one_line(exc)})", name) from None
    except Exception as exc:  # noqa: BLE001 - unknown split or config, damaged cache, ...
        raise InputError(f"cannot load {what}: {type(exc).__name__}: {_one_line(exc)}", name) from None


@contextmanager
def _quiet_libraries() -> Iterator[None]:
    """datasets' "Using the latest cached version" and huggingface_hub's "Retrying in 8s" lines are
    no findings; an error is one line on stderr (the contract), so they are silenced meanwhile."""
    import datasets
    import huggingface_hub.utils

    loggers = (datasets.logging, huggingface_hub.utils.logging)
    levels = [lib.get_verbosity() for lib in loggers]
    for lib in loggers:
        lib.set_verbosity_error()
    try:
        yield
    finally:
        for lib, level in zip(loggers, levels):
            lib.set_verbosity(level)


def named(source: Source, name: str | None) -> Source:
    """The source with the Hub name as its path, so reports say which dataset they judged."""
    return replace(source, path=name) if name else source


def _describe(split: str | None, config_name: str | None, revision: str | None) -> str:
    extra = [f"{k} {v!r}" for k, v in (("config", config_name), ("split", split), ("revision", revision)) if v]
    return "Hugging Face dataset" + (f" ({', '.join(extra)})" if extra else "")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]

