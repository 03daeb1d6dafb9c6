"""What the duplicate family shares: exact groups, near-duplicate clusters, excerpts, and the
settings that define them. `exact_duplicates`, `near_duplicates`, `conflicting_labels`,
`leakage` and `dedup` all call these, so what `dedup` removes is exactly what the checks
report, and no checker imports another.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from fineaudit.vectors import minhash
from fineaudit.text.content_patterns import redact_secrets
from fineaudit.core import RecordBatch, Records
from fineaudit.vectors.minhash import Cluster
from fineaudit.text.normalize import Normalization, key_of_normalized, normalize_text

SCOPES = ("text", "prompt", "response")
EXCERPT = 80  # characters of the duplicated text shown in a finding


def check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")


@dataclass(frozen=True)
class ExactDuplicatesParams:
    scope: str = field(default="text", metadata={
        "help": "what must be identical: text (the whole record), prompt or response"})
    nfkc: bool = field(default=True, metadata={"help": "compare after Unicode NFKC normalization"})
    casefold: bool = field(default=True, metadata={"help": "compare case-insensitively"})
    collapse_whitespace: bool = field(default=True, metadata={
        "help": "compare with runs of whitespace collapsed to one space"})
    max_fraction: float = field(default=0.01, metadata={
        "help": "fail when more than this share of records are duplicates to drop; fewer warn"})

    def __post_init__(self) -> None:
        check_scope(self.scope)

    @property
    def normalization(self) -> Normalization:
        return Normalization(self.nfkc, self.casefold, self.collapse_whitespace)


def view_of(batch: RecordBatch, scope: str) -> list[str]:
    """The compared text of each record; "" for records that did not parse."""
    return [text if error is None else "" for text, error in zip(getattr(batch, scope), batch.error)]


def exact_keys_batch(scope: str, how: Normalization, batch: RecordBatch) -> tuple[np.ndarray, np.ndarray]:
    """(key, index) of every parsed record whose compared text is not empty after normalization."""
    keys, indices = [], []
    for index, text in zip(batch.index, view_of(batch, scope)):
        normalized = normalize_text(text, how)
        if normalized:  # empty prompts/responses are other checks' business
            keys.append(key_of_normalized(normalized))
            indices.append(index)
    return np.array(keys, dtype=np.uint64), np.array(indices, dtype=np.int64)


def exact_groups(data: Records, p: ExactDuplicatesParams, desc: str | None = None) -> list[list[int]]:
    """Groups of records with the same normalized text, each sorted, ordered by first index."""
    return exact_groups_by(data, p.scope, p.normalization, desc)


def exact_groups_by(data: Records, scope: str, how: Normalization, desc: str | None = None) -> list[list[int]]:
    """Groups of records whose `scope` view is equal after the normalization `how`."""
    return data.group_by_key(partial(exact_keys_batch, scope, how), desc=desc)


def size_histogram(groups: list[list[int]]) -> dict[str, int]:
    """{"2": groups of two, "3": ...}: string keys, sizes ascending (the report's chart shape)."""
    sizes = Counter(len(g) for g in groups)
    return {str(size): sizes[size] for size in sorted(sizes)}


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """The start of a record's text for a finding: secrets masked before the cut, which could
    otherwise leave half a key that no detector recognizes."""
    text = redact_secrets(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


Excerpt = tuple[int | None, str]  # (1-based line or None, start of the compared text)


def excerpts_batch(scope: str, wanted: np.ndarray, batch: RecordBatch) -> dict[int, Excerpt]:
    index = np.asarray(batch.index, dtype=np.int64)
    texts = getattr(batch, scope)
    return {int(index[r]): (batch.line[r], excerpt(texts[r])) for r in np.flatnonzero(np.isin(index, wanted))}


def excerpts_of(data: Records, indices: list[int], scope: str) -> dict[int, Excerpt]:
    """Line and excerpt of a few records, read in the engine's workers (not one by one here)."""
    if not indices:
        return {}
    wanted = np.unique(np.asarray(indices, dtype=np.int64))
    found: dict[int, Excerpt] = {}
    for part in data.map_batches(partial(excerpts_batch, scope, wanted), desc=None):
        found.update(part)
    return found


@dataclass(frozen=True)
class NearDuplicatesParams:
    threshold: float = field(default=0.8, metadata={
        "help": "verified Jaccard similarity of word n-gram sets at or above which records are near duplicates"})
    ngram: int = field(default=5, metadata={"help": "words per shingle (texts with fewer words form one shingle)"})
    num_perm: int = field(default=128, metadata={"help": "MinHash permutations"})
    bands: int = field(default=0, metadata={"help": "LSH bands; 0 = chosen for the threshold (generous recall)"})
    rows: int = field(default=0, metadata={"help": "rows per LSH band; 0 = chosen for the threshold"})
    scope: str = field(default="text", metadata={"help": "what is compared: text (the whole record), prompt or response"})
    nfkc: bool = field(default=True, metadata={"help": "compare after Unicode NFKC normalization"})
    casefold: bool = field(default=True, metadata={"help": "compare case-insensitively"})
    max_fraction: float = field(default=0.05, metadata={
        "help": "fail when more than this share of records are near duplicates to drop; fewer warn"})

    def __post_init__(self) -> None:
        check_scope(self.scope)
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], not {self.threshold}")
        if self.ngram < 1 or self.num_perm < 1 or self.bands < 0 or self.rows < 0:
            raise ValueError("ngram and num_perm must be >= 1, bands and rows >= 0")
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands x rows ({self.bands * self.rows}) exceeds num_perm ({self.num_perm})")

    def lsh(self, seed: int) -> Lsh:
        bands, rows = (self.bands, self.rows) if self.bands and self.rows else \
            minhash.choose_bands(self.threshold, self.num_perm)
        return Lsh(self.scope, self.ngram, Normalization(self.nfkc, self.casefold, False),
                   self.num_perm, seed, bands, rows)


@dataclass(frozen=True)
class Lsh:
    """Everything a worker needs to shingle, sign and band a batch the same way everywhere."""

    scope: str
    ngram: int
    how: Normalization
    num_perm: int
    seed: int
    bands: int
    rows: int


def _shingles(lsh: Lsh, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    words, offsets = minhash.word_hashes(texts, lsh.how)
    return minhash.shingle_hashes(words, offsets, lsh.ngram)


def band_keys_batch(lsh: Lsh, batch: RecordBatch) -> tuple[np.ndarray, np.ndarray]:
    """(LSH band key, record index) pairs: bands records of every record with shingles."""
    shingles, offsets = _shingles(lsh, view_of(batch, lsh.scope))
    keys = minhash.band_keys(minhash.signatures(shingles, offsets, lsh.num_perm, lsh.seed),
                             lsh.bands, lsh.rows)
    has = np.diff(offsets) > 0
    index = np.asarray(batch.index, dtype=np.int64)[has]
    return keys[has].ravel(), np.repeat(index, lsh.bands)


@dataclass
class Verification:
    """What the second pass brings back for the records in some LSH group."""

    sets: dict[int, np.ndarray] = field(default_factory=dict)  # exact shingle sets
    sigs: dict[int, np.ndarray] = field(default_factory=dict)  # MinHash signatures
    excerpts: dict[int, Excerpt] = field(default_factory=dict)  # for findings

    def update(self, other: Verification) -> Verification:
        self.sets.update(other.sets)
        self.sigs.update(other.sigs)
        self.excerpts.update(other.excerpts)
        return self


def shingle_sets_batch(lsh: Lsh, wanted: np.ndarray, batch: RecordBatch) -> Verification:
    """Shingle sets, signatures and excerpts of this batch's records listed in `wanted`."""
    index = np.asarray(batch.index, dtype=np.int64)
    rows = np.flatnonzero(np.isin(index, wanted))
    if not len(rows):
        return Verification()
    texts = view_of(batch, lsh.scope)
    shingles, offsets = _shingles(lsh, [texts[r] for r in rows])
    sigs = minhash.signatures(shingles, offsets, lsh.num_perm, lsh.seed)
    ids = index[rows].tolist()
    return Verification(dict(zip(ids, minhash.shingle_sets(shingles, offsets))), dict(zip(ids, sigs)),
                        {i: (batch.line[r], excerpt(texts[r])) for i, r in zip(ids, rows.tolist())})


def shingle_sets_of(data: Records, lsh: Lsh, wanted: np.ndarray, desc: str | None = None) -> Verification:
    found = Verification()
    for part in data.map_batches(partial(shingle_sets_batch, lsh, wanted), desc=desc):
        found.update(part)
    return found


def near_clusters_with_excerpts(data: Records, p: NearDuplicatesParams, seed: int) -> tuple[list[Cluster], dict[int, Excerpt]]:
    lsh = p.lsh(seed)
    groups = data.group_by_key(partial(band_keys_batch, lsh), desc="near duplicates: MinHash")
    if not groups:
        return [], {}
    wanted = np.unique(np.concatenate([np.asarray(g, dtype=np.int64) for g in groups]))
    found = shingle_sets_of(data, lsh, wanted, desc="near duplicates: verify")
    return minhash.greedy_clusters(groups, found.sets, p.threshold, found.sigs), found.excerpts


def near_clusters(data: Records, p: NearDuplicatesParams, seed: int) -> list[Cluster]:
    """Verified near-duplicate clusters, ordered by kept record; the checker's and dedup's logic."""
    return near_clusters_with_excerpts(data, p, seed)[0]
