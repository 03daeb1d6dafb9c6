"""The diversity check: templated records, shared frames, and how varied the text is."""
from __future__ import annotations

import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from fineaudit.vectors import minhash
from fineaudit.core import AuditContext, Checker, CheckResult, Finding, Record, RecordBatch, Records, Status
from fineaudit.vectors.drift_stats import words as vocabulary_terms
from fineaudit.text.normalize import Normalization, key_of_normalized
from fineaudit.text.skeletons import skeleton

MAX_CHARS = 1000  # characters of a prompt skeletonized: a template shows in its first lines
EXCERPT = 70
_HOW = Normalization(nfkc=False, casefold=False, collapse_whitespace=False)  # skeletons are normalized
_EXACT_SALT = 0x5BD1E9955BD1E995  # keeps exact-skeleton keys apart from LSH band keys
_FRAME_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class DiversityParams:
    warn_templated_fraction: float = field(default=0.2, metadata={
        "help": "warn when more than this share of records share their prompt's skeleton with another record"})
    near_threshold: float = field(default=0.7, metadata={
        "help": "skeletons whose word 3-gram Jaccard reaches this are one template (1 = identical skeletons only)"})
    min_near_words: int = field(default=8, metadata={
        "help": "shorter skeletons group only when identical ('name <name> .' is not a template)"})
    sample_size: int = field(default=2000, metadata={
        "help": "records (seeded sample) for distinct-n, compression ratio and frames, so figures compare "
                "across datasets"})
    frame_share: float = field(default=0.25, metadata={
        "help": "a word n-gram in at least this share of the sampled prompts is a frame (a shared header)"})
    frame_ngram: int = field(default=4, metadata={"help": "words per frame n-gram"})
    shared_line_share: float = field(default=0.02, metadata={
        "help": "a prompt line found verbatim in at least this share of the sampled prompts (a tool "
                "description, a fixed header) is left out of skeletons, so templates are judged on the rest"})
    vendi: bool = field(default=False, metadata={
        "help": "also compute the Vendi score of the sample's prompt embeddings (drift's model; seconds to minutes)"})
    vendi_sample: int = field(default=500, metadata={"help": "prompts embedded for the Vendi score"})

    def __post_init__(self) -> None:
        for name in ("warn_templated_fraction", "frame_share", "shared_line_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], not {getattr(self, name)}")
        if not 0.0 < self.near_threshold <= 1.0:
            raise ValueError(f"near_threshold must be in (0, 1], not {self.near_threshold}")
        if min(self.min_near_words, self.sample_size, self.frame_ngram, self.vendi_sample) < 1:
            raise ValueError("min_near_words, sample_size, frame_ngram and vendi_sample must be >= 1")


@dataclass(frozen=True)
class Lsh:
    """What a worker needs to key skeletons the same way everywhere."""

    min_words: int
    seed: int
    shared_lines: frozenset[str] = frozenset()  # normalized lines left out of skeletons
    num_perm: int = 64
    bands: int = 16
    rows: int = 4
    ngram: int = 3


def prompt_of(record_prompt: str, record_text: str) -> str:
    """What is templated: the prompt (the text, for layouts without one), its start only."""
    return (record_prompt if record_prompt.strip() else record_text)[:MAX_CHARS]


def _line_key(line: str) -> str:
    return " ".join(line.lower().split())


def without_shared_lines(text: str, shared: frozenset[str]) -> str:
    """`text` without the lines most prompts repeat; the whole text when nothing else is left."""
    if not shared or "\n" not in text:
        return text
    kept = [line for line in text.splitlines() if _line_key(line) not in shared]
    return "\n".join(kept) if any(line.strip() for line in kept) else text


def shared_lines(records: list[Record], share: float) -> frozenset[str]:
    """Lines found verbatim in at least `share` of the sampled prompts (and in 3 or more)."""
    counts: Counter[str] = Counter()
    for r in records:
        text = prompt_of(r.prompt, r.text)
        if "\n" in text:
            counts.update({k for line in text.splitlines() if (k := _line_key(line))})
    need = max(3, int(np.ceil(share * len(records))))
    return frozenset(line for line, c in counts.items() if c >= need)


def _terms(skel: str) -> str:
    """A skeleton as space-separated terms: character bigrams where a script has no spaces
    (a Chinese prompt is one \\w+ run), so near templates are found in every script."""
    return skel if skel.isascii() else " ".join(vocabulary_terms(skel))


def _shingles(lsh: Lsh, skeletons: list[str]) -> tuple[np.ndarray, np.ndarray]:
    words, offsets = minhash.word_hashes([_terms(s) for s in skeletons], _HOW)
    return minhash.shingle_hashes(words, offsets, lsh.ngram)


def template_keys_batch(lsh: Lsh, batch: RecordBatch) -> tuple[np.ndarray, np.ndarray]:
    """(key, record index): every record's exact-skeleton key, and LSH band keys of long skeletons."""
    index, skeletons = [], []
    for i, prompt, text, error in zip(batch.index, batch.prompt, batch.text, batch.error):
        if error is None and (s := skeleton(without_shared_lines(prompt_of(prompt, text), lsh.shared_lines))):
            index.append(i)
            skeletons.append(s)
    if not index:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    ids = np.asarray(index, dtype=np.int64)
    exact = np.array([key_of_normalized(s) ^ _EXACT_SALT for s in skeletons], dtype=np.uint64)
    long = np.array([len(_terms(s).split()) >= lsh.min_words for s in skeletons])
    if not long.any():
        return exact, ids
    shingles, offsets = _shingles(lsh, [s for s, ok in zip(skeletons, long) if ok])
    bands = minhash.band_keys(minhash.signatures(shingles, offsets, lsh.num_perm, lsh.seed), lsh.bands, lsh.rows)
    return np.concatenate([exact, bands.ravel()]), np.concatenate([ids, np.repeat(ids[long], lsh.bands)])


@dataclass
class Skeletons:
    """Skeleton shingle sets, signatures and excerpts of the records in candidate groups."""

    sets: dict[int, np.ndarray] = field(default_factory=dict)
    sigs: dict[int, np.ndarray] = field(default_factory=dict)
    shown: dict[int, tuple[int | None, str, str]] = field(default_factory=dict)  # line, skeleton, excerpt
    parsed: int = 0  # records parsed, counted in the same pass

    def update(self, other: Skeletons) -> Skeletons:
        self.parsed += other.parsed
        self.sets.update(other.sets)
        self.sigs.update(other.sigs)
        self.shown.update(other.shown)
        return self


def skeletons_batch(lsh: Lsh, wanted: np.ndarray, batch: RecordBatch) -> Skeletons:
    index = np.asarray(batch.index, dtype=np.int64)
    rows = np.flatnonzero(np.isin(index, wanted)).tolist()
    parsed = sum(1 for e in batch.error if e is None)
    if not rows:
        return Skeletons(parsed=parsed)
    texts = [prompt_of(batch.prompt[r], batch.text[r]) for r in rows]
    skeletons = [skeleton(without_shared_lines(t, lsh.shared_lines)) for t in texts]
    shingles, offsets = _shingles(lsh, skeletons)
    sigs = minhash.signatures(shingles, offsets, lsh.num_perm, lsh.seed)
    ids = [batch.index[r] for r in rows]
    shown = {i: (batch.line[r], s, _excerpt(t)) for i, r, s, t in zip(ids, rows, skeletons, texts)}
    return Skeletons(dict(zip(ids, minhash.shingle_sets(shingles, offsets))), dict(zip(ids, sigs)), shown, parsed)


def template_clusters(data: Records, p: DiversityParams, seed: int,
                      shared: frozenset[str] = frozenset()) -> tuple[list[minhash.Cluster], Skeletons]:
    """Clusters of records whose prompt skeletons are identical or near (verified Jaccard)."""
    lsh = Lsh(p.min_near_words, seed, shared)
    groups = data.group_by_key(partial(template_keys_batch, lsh), desc="diversity: skeletons")
    if not groups:
        return [], Skeletons()
    wanted = np.unique(np.concatenate([np.asarray(g, dtype=np.int64) for g in groups]))
    found = Skeletons()
    for part in data.map_batches(partial(skeletons_batch, lsh, wanted), desc="diversity: verify"):
        found.update(part)
    clusters = minhash.greedy_clusters(groups, found.sets, p.near_threshold, found.sigs)
    return sorted(clusters, key=lambda c: (-len(c.members), c.kept)), found


# --------------------------------------------------------------------------- sample statistics


def distinct_n(token_lists: list[list[str]], n: int) -> float:
    """Distinct n-grams over all n-grams of the texts (Li et al. 2016)."""
    grams: Counter[tuple[str, ...]] = Counter()
    for tokens in token_lists:
        grams.update(zip(*(tokens[i:] for i in range(n))))
    total = sum(grams.values())
    return round(len(grams) / total, 4) if total else 0.0


def compression_ratio(texts: list[str]) -> float:
    """Raw bytes over zlib-compressed bytes: higher is more repetitive (natural text ~2.5-3.5)."""
    raw = "\n".join(texts).encode("utf-8", "surrogatepass")
    return round(len(raw) / len(zlib.compress(raw, 6)), 3) if raw else 0.0


@dataclass(frozen=True)
class Frame:
    phrase: str
    share: float
    records: tuple[int, ...]


def _frame_words(text: str) -> list[str]:
    return _FRAME_WORD.findall(text.lower())[:400]


def frames(records: list[Record], p: DiversityParams) -> list[Frame]:
    """Word n-grams present in at least frame_share of the sampled prompts, merged into phrases."""
    prompts = [_frame_words(prompt_of(r.prompt, r.text)) for r in records]
    n = p.frame_ngram
    counts: Counter[tuple[str, ...]] = Counter()
    for words in prompts:
        counts.update(set(zip(*(words[i:] for i in range(n)))))
    need = max(2, int(np.ceil(p.frame_share * len(prompts))))
    frequent = {g for g, c in counts.items() if c >= need}
    if not frequent:
        return []
    phrases: Counter[str] = Counter()
    for words in prompts:  # maximal runs of frequent n-grams in each prompt, as phrases
        phrases.update(set(_runs(words, frequent, n)))
    kept = [ph for ph, c in phrases.most_common() if c >= need]
    kept = [ph for ph in kept if not any(ph != other and ph in other for other in kept)][:5]
    out = []
    for phrase in kept:
        holders = tuple(r.index for r, w in zip(records, prompts) if phrase in " ".join(w))
        out.append(Frame(phrase, round(len(holders) / len(prompts), 4), holders))
    return out


def _runs(words: list[str], frequent: set[tuple[str, ...]], n: int) -> list[str]:
    runs, start, end = [], -1, -1
    for i in range(len(words) - n + 1):
        if tuple(words[i:i + n]) in frequent:
            if start < 0 or i > end:
                if start >= 0:
                    runs.append(" ".join(words[start:end]))
                start = i
            end = i + n
    if start >= 0:
        runs.append(" ".join(words[start:end]))
    return runs


def vendi_score(vectors: np.ndarray) -> float:
    """exp(Shannon entropy of the eigenvalues of K/n), K the cosine similarity matrix (Friedman
    & Dieng 2023): the effective number of distinct examples, 1 .. n."""
    x = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    eig = np.linalg.eigvalsh((x @ x.T) / len(x))
    eig = eig[eig > 1e-12]
    return round(float(np.exp(-(eig * np.log(eig)).sum())), 3)


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT else flat[:EXCERPT] + "…"


class DiversityChecker(Checker):
    """Prompts generated from one template (the same skeleton once numbers, names, quoted
    strings, URLs, e-mails and code are masked), frames shared by a large share of prompts,
    and how varied the text is (distinct-1/2 and compression ratio on a fixed-size sample).

    Why it matters: records filled from a few templates are not duplicates (their slots
    differ), so duplicate checks pass them, yet the model sees one example a thousand times:
    it learns the template's wording and little else, and generalizes poorly to prompts
    phrased any other way.

    Fix: rewrite or paraphrase templated prompts, generate from more (and more varied) seed
    templates, or down-sample the largest templates; drop a shared frame (a header every
    prompt repeats) unless the model must see it at inference too.
    """

    name = "diversity"
    parallel_safe = True
    Params = DiversityParams
    order = 92
    codes = {
        "diversity.template": "records whose prompts share one skeleton (one finding per template; "
                              "lists its members, with the skeleton and two examples)",
        "diversity.frame": "a word sequence present in a large share of prompts (a shared header or frame)",
    }

    def check(self, data: Records, ctx: AuditContext) -> CheckResult:
        p: DiversityParams = ctx.params
        sample = [r for r in data.sample(p.sample_size, ctx.seed) if r.parsed]
        repeated_lines = shared_lines(sample, p.shared_line_share)
        clusters, found = template_clusters(data, p, ctx.seed, repeated_lines)
        templated = sum(len(c.members) for c in clusters)
        valid = found.parsed if clusters else len(data)
        fraction = templated / valid if valid else 0.0
        tokens = [vocabulary_terms(r.text)[:500] for r in sample]
        shared = frames(sample, p)
        metrics: dict[str, Any] = {
            "templated_fraction": round(fraction, 4), "templates": len(clusters),
            "templated_records": templated,
            "largest_template": len(clusters[0].members) if clusters else 0,
            "distinct_1": distinct_n(tokens, 1), "distinct_2": distinct_n(tokens, 2),
            "compression_ratio": compression_ratio([r.text for r in sample]),
            "frames": len(shared), "sample_size": len(sample), "shared_lines": len(repeated_lines),
        }
        if p.vendi and sample:
            metrics["vendi_score"], metrics["vendi_model"] = self._vendi(sample, p, ctx)
        # frames first: a handful, and the report keeps only the first max_findings
        findings = [self._frame_finding(f, len(sample), data.source) for f in shared]
        findings += [self._template_finding(c, found) for c in clusters]
        status = Status.WARN if fraction > p.warn_templated_fraction else Status.PASS
        summary = (f"{templated} records ({fraction:.1%}) in {len(clusters)} repeated prompt skeleton{'s' if len(clusters) != 1 else ''}; "
                   f"distinct-2 {metrics['distinct_2']}, compression ratio {metrics['compression_ratio']}"
                   + (f"; {len(shared)} shared frame{'s' if len(shared) != 1 else ''}" if shared else ""))
        thresholds = {"warn_templated_fraction": p.warn_templated_fraction, "near_threshold": p.near_threshold,
                      "frame_share": p.frame_share}
        return self.result(status, summary, metrics, findings=findings, thresholds=thresholds)

    @staticmethod
    def _template_finding(c: minhash.Cluster, found: Skeletons) -> Finding:
        line, skel, _ = found.shown.get(c.kept, (None, "", ""))
        examples = "; ".join(f"record {i}: {found.shown[i][2]!r}" for i in c.members[:2] if i in found.shown)
        shown = skel if len(skel) <= 120 else skel[:120] + "…"
        return Finding("diversity.template", f"{len(c.members)} prompts share the skeleton {shown!r}, e.g. {examples}",
                       c.members, line=line if len(c.members) == 1 else None, field="prompt")

    @staticmethod
    def _frame_finding(f: Frame, sampled: int, source: str) -> Finding:
        phrase = f.phrase if len(f.phrase) <= 120 else f.phrase[:120] + "…"
        return Finding("diversity.frame", f"{f.share:.0%} of {sampled} sampled prompts contain {phrase!r}",
                       f.records[:20], field="prompt", source=source)

    @staticmethod
    def _vendi(sample: list[Record], p: DiversityParams, ctx: AuditContext) -> tuple[float | None, str]:
        from fineaudit.vectors.embeddings import DEFAULT_MODEL, EmbeddingCache, choose_embedder, default_cache_dir, embed

        choice = choose_embedder(DEFAULT_MODEL)
        if choice.note:  # no sentence model here: a lexical Vendi score would not compare with others
            return None, choice.note
        cache = EmbeddingCache(default_cache_dir(ctx.cache_dir))  # drift's cache: the same prompts cost nothing
        try:
            texts = [prompt_of(r.prompt, r.text) for r in sample[: p.vendi_sample]]
            vectors, _ = embed(choice.embedder, texts, cache, ctx.progress, "diversity: embedding")
        finally:
            cache.close()
        return vendi_score(vectors), choice.embedder.model_id

