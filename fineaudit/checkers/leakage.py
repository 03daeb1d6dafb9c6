"""The leakage check: eval records, or their prompts, found in the training set."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import numpy as np

from fineaudit.vectors import minhash
from fineaudit.vectors.duplicate_groups import NearDuplicatesParams, band_keys_batch, check_scope, exact_keys_batch, excerpts_of, shingle_sets_of
from fineaudit.core import AuditContext, Checker, CheckResult, Finding, RecordBatch, Records, Status
from fineaudit.text.normalize import Normalization
from fineaudit.vectors import prompt_index
from fineaudit.text.content_patterns import redact_secrets
from fineaudit.vectors.embeddings import DEFAULT_MODEL, EmbeddingCache, check_model_name, choose_embedder, default_cache_dir, embed


@dataclass(frozen=True)
class LeakageParams:
    scope: str = field(default="text", metadata={"help": "what is compared: text (the whole record), prompt or response"})
    near: bool = field(default=True, metadata={"help": "also count near duplicates (not only exact copies)"})
    threshold: float = field(default=0.8, metadata={"help": "verified word n-gram Jaccard of a near-duplicate leak"})
    ngram: int = field(default=5, metadata={"help": "words per shingle"})
    num_perm: int = field(default=128, metadata={"help": "MinHash permutations"})
    nfkc: bool = field(default=True, metadata={"help": "compare after Unicode NFKC normalization"})
    casefold: bool = field(default=True, metadata={"help": "compare case-insensitively"})
    max_fraction: float = field(default=0.01, metadata={"help": "fail when more than this share of the eval set leaks; fewer warn"})
    prompts: bool = field(default=True, metadata={
        "help": "also look for eval prompts inside training records (13-grams, 50-character substrings)"})
    prompt_scope: str = field(default="text", metadata={
        "help": "where eval prompts are looked for: text (the whole training record) or prompt"})
    min_prompt_chars: int = field(default=20, metadata={
        "help": "letters and digits an eval prompt needs to be looked for inside longer records"})
    max_key_records: int = field(default=10, metadata={
        "help": "a 13-gram or substring in more training records than this is a template, not a leak"})
    semantic: bool = field(default=True, metadata={
        "help": "warn on paraphrased eval prompts by embedding similarity (needs sentence-transformers)"})
    semantic_threshold: float = field(default=0.85, metadata={
        "help": "cosine similarity of prompt embeddings at which a pair is reported as a paraphrase"})
    semantic_margin: float = field(default=0.1, metadata={
        "help": "and by how much the pair must beat the eval prompt's 10th nearest training prompt "
                "(texts that all look alike to the model, such as codes or IDs, are not paraphrases)"})
    semantic_max_train: int = field(default=20000, metadata={
        "help": "training prompts embedded for paraphrases; beyond it, a seeded sample of this many"})
    embedding_model: str = field(default=DEFAULT_MODEL, metadata={"path": True,
        "help": "the bundled all-MiniLM-L6-v2 or a local sentence-transformers folder (drift's model)"})
    cache: bool = field(default=True, metadata={"help": "keep embeddings on disk (drift's cache)"})

    def __post_init__(self) -> None:
        check_scope(self.scope)
        NearDuplicatesParams(threshold=self.threshold, ngram=self.ngram, num_perm=self.num_perm)
        if self.prompt_scope not in ("text", "prompt"):
            raise ValueError(f"leakage.prompt_scope must be text or prompt, not {self.prompt_scope!r}")
        if not 8 <= self.min_prompt_chars <= prompt_index.WINDOW:
            raise ValueError(f"leakage.min_prompt_chars must be between 8 and {prompt_index.WINDOW}")
        if self.max_key_records < 1 or self.semantic_max_train < 1:
            raise ValueError("leakage.max_key_records and semantic_max_train must be at least 1")
        if not 0.0 < self.semantic_threshold <= 1.0 or not 0.0 <= self.semantic_margin <= 1.0:
            raise ValueError("leakage.semantic_threshold must be in (0, 1] and semantic_margin in [0, 1]")
        if not 0.0 <= self.max_fraction <= 1.0:
            raise ValueError("leakage.max_fraction must be in [0, 1]")
        check_model_name(self.embedding_model)

    def near_params(self) -> NearDuplicatesParams:
        return NearDuplicatesParams(threshold=self.threshold, ngram=self.ngram, num_perm=self.num_perm,
                                    scope=self.scope, nfkc=self.nfkc, casefold=self.casefold)


Matches = dict[int, dict[int, float]]  # eval index -> {train index: similarity}


def _keyed(data: Records, fn: partial, desc: str) -> tuple[np.ndarray, np.ndarray]:
    parts = data.map_batches(fn, desc=desc)
    keys = np.concatenate([k for k, _ in parts]) if parts else np.zeros(0, np.uint64)
    idx = np.concatenate([i for _, i in parts]) if parts else np.zeros(0, np.int64)
    return keys, idx


def invalid_rows(batch: RecordBatch) -> list[int]:
    """The batch's records that do not fit their layout (module level: runs in the workers)."""
    return [i for i, ok in zip(batch.index, batch.valid) if not ok]


def join_keys(train: tuple[np.ndarray, np.ndarray], held: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """(eval index, train index) pairs sharing a key, without repeats, sorted."""
    order = np.argsort(train[0], kind="stable")
    tkeys, tidx = train[0][order], train[1][order]
    lo = np.searchsorted(tkeys, held[0], side="left")
    hi = np.searchsorted(tkeys, held[0], side="right")
    counts = hi - lo
    if not counts.sum():
        return np.zeros((0, 2), dtype=np.int64)
    eval_idx = np.repeat(held[1], counts)
    # positions lo..hi-1 of every hit, flattened without a Python loop
    starts = np.repeat(lo - np.cumsum(np.r_[0, counts[:-1]]), counts)
    train_idx = tidx[starts + np.arange(counts.sum())]
    return np.unique(np.stack([eval_idx, train_idx], axis=1), axis=0)


def exact_leaks(train: Records, held: Records, p: LeakageParams) -> Matches:
    fn = partial(exact_keys_batch, p.scope, Normalization(p.nfkc, p.casefold, True))
    pairs = join_keys(_keyed(train, fn, "leakage: train keys"), _keyed(held, fn, "leakage: eval keys"))
    out: Matches = {}
    for e, t in pairs.tolist():
        out.setdefault(e, {})[t] = 1.0
    return out


def near_leaks(train: Records, held: Records, p: LeakageParams, seed: int) -> Matches:
    lsh = p.near_params().lsh(seed)
    fn = partial(band_keys_batch, lsh)
    pairs = join_keys(_keyed(train, fn, "leakage: train MinHash"), _keyed(held, fn, "leakage: eval MinHash"))
    if not len(pairs):
        return {}
    eval_sets = shingle_sets_of(held, lsh, np.unique(pairs[:, 0]), desc="leakage: verify eval").sets
    train_sets = shingle_sets_of(train, lsh, np.unique(pairs[:, 1]), desc="leakage: verify train").sets
    out: Matches = {}
    for e, t in pairs.tolist():
        similarity = minhash.jaccard(eval_sets[e], train_sets[t])
        if similarity >= p.threshold:
            out.setdefault(e, {})[t] = round(similarity, 4)
    return out


HOW = {"exact": "is identical (after normalization) to the prompt of",
       "gram": "shares a 13-word sequence with",
       "window": "shares a 50-character passage (spaces and punctuation aside) with",
       "whole": "is contained (spaces and punctuation aside) in"}


@dataclass(frozen=True)
class PromptLeak:
    how: str                 # a key of HOW: the strongest evidence found
    train: tuple[int, ...]


def prompt_leaks(train: Records, held: Records, p: LeakageParams, seed: int) -> dict[int, PromptLeak]:
    """Eval prompts found in training records (prompt_index: exact, 13-gram, substrings)."""
    parts = held.map_batches(partial(prompt_index.eval_keys_batch, p.min_prompt_chars, seed),
                             desc="leakage: eval prompt index")
    index = prompt_index.build_eval_index(parts, p.min_prompt_chars)
    hits = train.map_batches(partial(prompt_index.scan_batch, index, p.prompt_scope, p.max_key_records),
                             desc="leakage: eval prompts in training")
    found = prompt_index.merge_hits(hits, p.max_key_records, index)
    out: dict[int, PromptLeak] = {}
    for how in ("exact", "gram", "window", "whole"):  # strongest evidence first
        for e, twins in found[how].items():
            out.setdefault(e, PromptLeak(how, tuple(sorted(twins))))
    return out


MARGIN_RANK = 10  # the neighbour a paraphrase must stand out from (a margin criterion, as in bitext mining)


@dataclass(frozen=True)
class Paraphrase:
    train: int
    similarity: float
    eval_text: str
    train_text: str


def semantic_leaks(train: Records, held: Records, p: LeakageParams, ctx: AuditContext,
                   known: set[int]) -> tuple[dict[int, Paraphrase], str]:
    """Eval prompts whose embedding is within semantic_threshold of a training prompt's, and a
    note ("" when the search ran, else why it did not)."""
    try:
        choice = choose_embedder(p.embedding_model)
    except ImportError as exc:  # the bundled model's package is not installed
        return {}, f"skipped: {exc}"
    if choice.note:  # the lexical fallback cannot tell a paraphrase from a shared topic
        return {}, "skipped: sentence-transformers is not installed (pip install 'fineaudit[drift]')"
    evals = [r for r in held.sample(len(held), ctx.seed) if r.parsed and r.prompt.strip() and r.index not in known]
    trains = [r for r in train.sample(p.semantic_max_train, ctx.seed) if r.parsed and r.prompt.strip()]
    if not evals or not trains:
        return {}, ""
    cache = EmbeddingCache(default_cache_dir(ctx.cache_dir)) if p.cache else None
    try:
        ex, _ = embed(choice.embedder, [r.prompt for r in evals], cache, ctx.progress, "leakage: embedding eval")
        tx, _ = embed(choice.embedder, [r.prompt for r in trains], cache, ctx.progress, "leakage: embedding train")
    finally:
        if cache is not None:
            cache.close()
    out: dict[int, Paraphrase] = {}
    for start in range(0, len(evals), 1024):  # a block of similarities at a time: bounded memory
        sims = ex[start:start + 1024] @ tx.T
        best = sims.argmax(axis=1)
        top = sims[np.arange(len(best)), best]
        rank = min(MARGIN_RANK, sims.shape[1])  # fewer training prompts: the farthest one
        kth = np.partition(sims, -rank, axis=1)[:, -rank]
        close = (top >= p.semantic_threshold) & (top - kth >= p.semantic_margin)
        for k in np.flatnonzero(close).tolist():
            e, t = evals[start + k], trains[int(best[k])]
            out[e.index] = Paraphrase(t.index, float(sims[k, best[k]]), e.prompt, t.prompt)
    sampled = "" if len(trains) >= len(train) or len(train) <= p.semantic_max_train else \
        f"against a seeded sample of {p.semantic_max_train} training prompts"
    return out, sampled


class LeakageChecker(Checker[LeakageParams]):
    """Eval records that are exact or near duplicates of training records, eval prompts found
    inside training records (exact, a shared word 13-gram, one of three 50-character substrings,
    or contained whole), and, as warnings, eval prompts that paraphrase training prompts.

    Why it matters: an eval example the model has trained on measures memory, not skill, so
    the eval score overstates how the model will do on new inputs; a few percent of leaked
    examples is enough to change which checkpoint or setting looks best.

    A question the model has seen with another answer leaks too: contamination studies (GPT-3,
    lm-evaluation-harness, GPT-4) test the eval prompt, not the whole example.

    Fix: remove the listed eval records (or their training twins), then re-split so that
    near copies stay on one side; deduplicate before splitting next time. Read the
    paraphrase warnings yourself: a rewording of a training question is a leak, the same
    topic is not.
    """

    name = "leakage"
    parallel_safe = True
    Params = LeakageParams
    order = 50
    needs = "eval"
    codes = {"leakage.exact": "an eval record identical (after normalization) to training records",
             "leakage.near": "an eval record whose shingles overlap a training record's at the threshold",
             "leakage.prompt": "an eval prompt found in training records (exact, a shared 13-gram or "
                               "50-character substring, or contained whole), whatever the answer",
             "leakage.semantic": "an eval prompt that paraphrases a training prompt (embedding "
                                 "similarity): both texts shown for review",
             "leakage.invalid_eval": "eval records that do not fit the eval's layout: their text is "
                                     "not compared, so leaks among them go unseen"}

    def check(self, data: Records, ctx: AuditContext) -> CheckResult:
        p = self.params(ctx)
        held = ctx.eval
        if held is None:
            return self.skipped("needs --eval")
        exact = exact_leaks(data, held, p)
        near = near_leaks(data, held, p, ctx.seed) if p.near else {}
        prompts = prompt_leaks(data, held, p, ctx.seed) if p.prompts else {}
        records = set(exact) | set(near)
        prompts = {e: leak for e, leak in prompts.items() if e not in records}
        leaked = sorted(records | set(prompts))
        paraphrases, note = semantic_leaks(data, held, p, ctx, set(leaked)) if p.semantic else ({}, "off")
        invalid = [i for part in held.map_batches(invalid_rows, desc="leakage: eval validity") for i in part]
        fraction = len(leaked) / len(held) if len(held) else 0.0
        metrics = {"leaked_records": len(leaked), "leaked_fraction": round(fraction, 6),
                   "invalid_eval_records": len(invalid), "eval_format": held.info.format,
                   "exact_leaks": len(exact), "near_leaks": len(set(near) - set(exact)),
                   "prompt_leaks": len(prompts) if p.prompts else None,
                   "prompt_leaks_by_kind": {how: sum(1 for x in prompts.values() if x.how == how) for how in HOW},
                   "semantic_leaks": None if note.startswith(("skipped", "off")) else len(paraphrases),
                   "semantic": note or "ran", "eval_records": len(held), "threshold": p.threshold,
                   "scope": p.scope, "prompt_scope": p.prompt_scope}
        thresholds = {"max_fraction": p.max_fraction, "threshold": p.threshold,
                      "semantic_threshold": p.semantic_threshold, "semantic_margin": p.semantic_margin,
                      "max_key_records": p.max_key_records}
        findings = self._findings(held, leaked, exact, near, prompts, p.scope) + \
            [self._paraphrase(e, x) for e, x in sorted(paraphrases.items())] + self._invalid(held, invalid)
        if not leaked and not paraphrases and not invalid:
            return self.result(Status.PASS, "no eval record or prompt found in the training set", metrics,
                               thresholds=thresholds)
        status = Status.FAIL if fraction > p.max_fraction else Status.WARN
        summary = (f"{len(leaked)} of {len(held)} eval records ({fraction:.1%}) leak from training "
                   f"({len(records)} as whole records, {len(prompts)} by their prompt)")
        if paraphrases:
            summary += f"; {len(paraphrases)} eval prompts paraphrase training prompts (review)"
        if invalid:
            # none readable: nothing was compared, and a gate must not pass what it could not judge
            status = Status.FAIL if len(invalid) == len(held) else status
            summary += (f"; {len(invalid)} of {len(held)} eval records do not fit the eval's layout "
                        f"({held.info.format}) and were not compared")
        return self.result(status, summary, metrics, thresholds=thresholds, findings=findings)

    @staticmethod
    def _invalid(held: Records, invalid: list[int]) -> list[Finding]:
        if not invalid:
            return []
        shown = ", ".join(map(str, invalid[:10])) + (", ..." if len(invalid) > 10 else "")
        return [Finding(code="leakage.invalid_eval", records=tuple(invalid), source="eval",
                        message=f"{len(invalid)} eval records do not fit the eval's layout ({held.info.format}) "
                                f"and were not compared: {shown} (their format problems: audit the eval "
                                "file itself)")]

    def _findings(self, held: Records, leaked: list[int], exact: Matches, near: Matches,
                  prompts: dict[int, PromptLeak], scope: str) -> list[Finding]:
        records = excerpts_of(held, leaked[:5000], scope)
        shown_prompts = excerpts_of(held, sorted(prompts)[:5000], "prompt")
        out = []
        for e in leaked:
            if e in prompts:
                out.append(self._prompt_finding(e, prompts[e], shown_prompts.get(e, (None, ""))))
                continue
            twins = {**near.get(e, {}), **exact.get(e, {})}
            train_ids = sorted(twins)
            line, text = records.get(e, (None, ""))
            shown = f': "{text}"' if text else ""
            kind = "an exact copy" if e in exact else f"a near duplicate (Jaccard {max(twins.values()):.3f})"
            out.append(Finding(code="leakage.exact" if e in exact else "leakage.near", records=(e,),
                               line=line, field=scope, source="eval",
                               message=f"eval record {e} is {kind} of training record"
                                       f"{'s' if len(train_ids) > 1 else ''} {_listed(train_ids)}{shown}"))
        return out

    @staticmethod
    def _prompt_finding(e: int, leak: PromptLeak, shown: tuple[int | None, str]) -> Finding:
        line, text = shown
        plural = "s" if len(leak.train) > 1 else ""
        return Finding(code="leakage.prompt", records=(e,), line=line, field="prompt", source="eval",
                       message=f"eval record {e}'s prompt {HOW[leak.how]} training record{plural} "
                               f"{_listed(list(leak.train))}" + (f': "{text}"' if text else ""))

    @staticmethod
    def _paraphrase(e: int, x: Paraphrase) -> Finding:
        return Finding(code="leakage.semantic", records=(e,), field="prompt", source="eval",
                       message=f"eval record {e}'s prompt may paraphrase training record {x.train}'s "
                               f"(cosine {x.similarity:.3f}): eval \"{_clip(x.eval_text)}\" / "
                               f"train \"{_clip(x.train_text)}\"")


def _listed(ids: list[int]) -> str:
    return ", ".join(map(str, ids[:12])) + (" …" if len(ids) > 12 else "")


def _clip(text: str, n: int = 100) -> str:
    flat = redact_secrets(" ".join(text.split()))  # before the cut, which could leave half a key
    return flat if len(flat) <= n else flat[: n - 1] + "…"
