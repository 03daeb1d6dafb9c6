"""The audit pipeline: config -> load -> check -> score -> Report. The library's entry points."""
from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fineaudit.check_runs import PlannedCheck, run_checks
from fineaudit.config import TOP_LEVEL, Config, load_config
from fineaudit.core import (AuditContext, Checker, CheckResult, ConfigError, DatasetInfo, Engine, InputError,
                            Records, Report, Status)
from fineaudit.text.content_patterns import redact_secrets
from fineaudit.engines import make_engine, work_meter
from fineaudit.dataset.formats import PROMPTS, ReadOptions, UnknownLayout, check_format_name, prompts_layout
from fineaudit.dataset.hub import load_if_hub_name, named
from fineaudit.dataset.loaders import Source, held_out_split_at, open_source, split_dataset_dict, split_shards
from fineaudit.engines.progress import NoProgress, make_progress
from fineaudit.registry import load_checkers, undeclared_codes
from fineaudit.scorer import readiness_score, verdict


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("fineaudit")
    except PackageNotFoundError:
        return "0+unknown"


def resolve_config(config: Config | Mapping[str, Any] | str | Path | None = None,
                   settings: Iterable[str] = (), **top_level: Any) -> Config:
    """A validated Config from a Config, a dict, a TOML path, or the discovered file (None)."""
    checkers = load_checkers()
    extra = {k: v for k, v in top_level.items() if v is not None}
    if isinstance(config, Config):
        data = {k: getattr(config, k) for k in TOP_LEVEL}
        data["checks"] = {n: {"enabled": s.enabled, "blocking": s.blocking, **vars(s.params)}
                          for n, s in config.checks.items()}
        data["fields"] = dict(config.fields)
        return load_config(checkers, data={**data, **extra}, overrides=settings, discover=False)
    if isinstance(config, Mapping):
        return load_config(checkers, data={**config, **extra}, overrides=settings, discover=False)
    return load_config(checkers, path=config, data=extra, overrides=settings)


def select_checks(config: Config, only: Iterable[str] | None, skip: Iterable[str] | None) -> list[str]:
    names = list(config.checks)
    for option, chosen in (("--only", only), ("--skip", skip)):
        unknown = sorted(set(chosen or ()) - set(names))
        if unknown:
            raise ConfigError(f"{option}: unknown check {unknown[0]!r}; valid checks: {', '.join(names)}")
    selected = [n for n in names if config.checks[n].enabled]
    if only:
        selected = [n for n in names if n in set(only)]
    return [n for n in selected if n not in set(skip or ())]


def audit(data: Any, format: str = "auto", production: Any = None, eval: Any = None,
          config: Config | Mapping[str, Any] | str | Path | None = None, *,
          only: Iterable[str] | None = None, skip: Iterable[str] | None = None,
          settings: Iterable[str] = (), fail_on: str | None = None, max_findings: int | None = None,
          engine: str = "local", scheduler: str | None = None, client: Any = None,
          progress: bool = False, fields: Mapping[str, str] | None = None,
          split: str | None = None, config_name: str | None = None, revision: str | None = None) -> Report:
    """Audit one dataset and return its Report (see the contract for what `data` may be);
    `fields` maps layout roles to the data's columns (`{"label": "category"}`). A Hub name
    (`org/name`, no such local path) loads through `datasets` with `split`/`config_name`/`revision`."""
    cfg = resolve_config(config, settings, fail_on=fail_on, max_findings=max_findings,
                         format=None if format in (None, "auto") else check_format_name(format))
    if fields:
        ReadOptions.of(fields)  # unknown roles are a config error before any data is read
        cfg = replace(cfg, fields={**cfg.fields, **fields})
    names = select_checks(cfg, only, skip)
    data, hub_name = load_if_hub_name(data, split=split, config_name=config_name, revision=revision)
    data, held_out = split_dataset_dict(data)
    eval = eval if eval is not None else (held_out if held_out is not None else held_out_split_at(data))
    train, held_out_shards = split_shards(open_source(data, "data"))
    sources = {"train": named(train, hub_name),
               "eval": open_source(split_dataset_dict(eval)[0], "--eval") if eval is not None else held_out_shards,
               "production": open_source(split_dataset_dict(production)[0], "--production")
               if production is not None else None}
    sink = make_progress(progress) if progress else NoProgress()
    with _make_engine(engine, cfg, sink, scheduler, client) as runner:
        options = cfg.read_options()
        loaded = _load_all(runner, sources, cfg, options)
        shared: dict[str, Any] = {}
        at_once = runner.checks_at_once
        results = run_checks(_plan(names), lambda name: _run_check(name, cfg, loaded, sink, shared, options,
                                                                   metered=at_once > 1), at_once)
    return _report(loaded, results, cfg)


def gate(data: Any, **kwargs: Any) -> Report:
    """Audit, then raise fineaudit.DatasetNotReady unless the dataset is ready; returns the report."""
    report = audit(data, **kwargs)
    report.raise_for_failure()
    return report


def _make_engine(name: str, cfg: Config, sink: Any, scheduler: str | None, client: Any) -> Engine:
    return make_engine(name, batch_size=cfg.batch_size, workers=cfg.workers or None, progress=sink,
                       scheduler=scheduler, client=client, max_record_bytes=cfg.max_record_bytes)


def _load_all(runner: Any, sources: Mapping[str, Source | None], cfg: Config,
              options: ReadOptions) -> dict[str, Records | None]:
    train = sources["train"]
    assert train is not None  # the training data is always given; eval and production may not be
    layout = cfg.format if cfg.format != "auto" else train.detect_layout(options=options)
    loaded: dict[str, Records | None] = {"train": runner.load(train, layout, "train", options)}
    held_out = sources["eval"]
    if held_out is not None:
        loaded["eval"] = runner.load(held_out, _eval_layout(held_out, layout, options), "eval", options)
    production = sources["production"]
    if production is not None:
        field = cfg.production_field or None
        if field and not any(isinstance(o, dict) and field in o for o in production.peek()):
            raise InputError(f"no record has the field {field!r} named by production_field",
                             production.path or "--production")
        loaded["production"] = runner.load(production, prompts_layout(field), "production",
                                           ReadOptions.of(label_field=options.label), PROMPTS)
    return loaded


def _eval_layout(held_out: Source, train_layout: str, options: ReadOptions) -> str:
    """The eval split's own layout: an eval kept as instruction records beside chat training
    data is common, and read in the training layout every eval record would be invalid, so no
    leak could be found. The training layout when the eval's cannot be told (it is then read,
    and its unreadable records reported, as before)."""
    try:
        return held_out.detect_layout(options=options)
    except (UnknownLayout, InputError):
        return train_layout


def _plan(names: list[str]) -> list[PlannedCheck]:
    checkers = load_checkers()
    return [PlannedCheck(n, tuple(checkers[n].after), not checkers[n].parallel_safe) for n in names]


def _run_check(name: str, cfg: Config, loaded: Mapping[str, Records | None], sink: Any,
               shared: dict[str, Any], options: ReadOptions, metered: bool = False) -> CheckResult:
    """One check's result; `metered`: beside other checks, so its duration is the work it
    caused (engines/work_meter.py), not its wall time."""
    with work_meter.metered() as meter:
        started = time.perf_counter()
        result = _checked(name, cfg, loaded, sink, shared, options)
        seconds = meter.seconds() if metered else time.perf_counter() - started
    return replace(result, duration_s=seconds)


def _checked(name: str, cfg: Config, loaded: Mapping[str, Records | None], sink: Any,
             shared: dict[str, Any], options: ReadOptions) -> CheckResult:
    cls: type[Checker] = load_checkers()[name]
    settings = cfg.checks[name]
    train = loaded["train"]
    assert train is not None
    ctx = AuditContext(format=train.info.format, params=settings.params, eval=loaded.get("eval"),
                       production=loaded.get("production"), progress=sink,
                       cache_dir=None, seed=cfg.seed, shared=shared, options=options)
    if cls.needs and loaded.get(cls.needs) is None:
        result = cls().skipped(f"needs --{cls.needs}")
    else:
        try:
            result = cls().check(train, ctx)
            stray = undeclared_codes(cls, (f.code for f in result.findings))
            if stray:
                raise TypeError(f"finding code {stray[0]!r} is not among the checker's declared codes")
        except Exception as exc:  # fail closed: a checker that breaks blocks the verdict
            result = CheckResult(name=name, status=Status.ERROR, score=0.0,
                                 summary=f"checker raised {type(exc).__name__}: {exc}")
    findings_total = max(result.findings_total, len(result.findings))
    kept = tuple(replace(f, message=report_text(f.message), detail=_redacted(f.detail))
                 for f in (result.findings if cfg.max_findings == 0 else result.findings[:cfg.max_findings]))
    return replace(result, name=name, blocking=settings.blocking, findings=tuple(kept),
                   summary=report_text(result.summary), metrics=_redacted(result.metrics),
                   findings_total=findings_total)


MAX_MESSAGE_CHARS = 1000


def _redacted(value: Any) -> Any:
    """Metrics with any secret masked, in values and keys alike (field sets name record keys)."""
    if isinstance(value, str):
        return redact_secrets(value)
    if isinstance(value, dict):
        return {(redact_secrets(k) if isinstance(k, str) else k): _redacted(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redacted(v) for v in value)
    return value


def report_text(text: str) -> str:
    """Dataset text as a report may show it: secrets masked, whatever checker quoted it
    (duplicate excerpts, schema errors that repeat a value, plugins), and of bounded length."""
    text = redact_secrets(text)
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS - 1] + "…"


def _report(loaded: Mapping[str, Records | None], results: list[CheckResult], cfg: Config) -> Report:
    train = loaded["train"]
    assert train is not None
    inputs = {role: (loaded[role].info.to_dict() if loaded.get(role) is not None else None)  # type: ignore[union-attr]
              for role in ("production", "eval")}
    return Report(dataset=train.info, checks={r.name: r for r in results},
                  verdict=verdict(results, cfg.fail_on), score=readiness_score(results, cfg.fail_on),
                  fail_on=cfg.fail_on, inputs=inputs,
                  created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  fineaudit_version=version())


__all__ = ["audit", "gate", "resolve_config", "select_checks", "version", "DatasetInfo"]
