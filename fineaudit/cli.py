"""The command line: parse, call the library, render. Exit codes are named below."""
from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from fineaudit.core import FineauditError, Report, Status
from fineaudit.dataset.formats import FORMAT_CHOICES, ReadOptions
from fineaudit.commands.interrupts import STOP_SIGNALS, Stopped, on_signal, reset
from fineaudit.commands.output_paths import check_writable, emit, refuse_inputs
from fineaudit.commands.result_cache import CACHE_DIRNAME, CACHE_ENV, ResultCache

EXIT_READY = 0
EXIT_NOT_READY = 1
EXIT_ERROR = 2


def _split_names(value: str | None) -> list[str] | None:
    return [n.strip() for n in value.split(",") if n.strip()] if value else None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fineaudit")
def cli() -> None:
    """fineaudit: is this fine-tuning dataset ready to train on?"""


@cli.command("audit")
@click.argument("data", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(FORMAT_CHOICES), default=None,
              help="record layout; auto detects it (default: config, else auto)")
@click.option("--production", help="a sample of production inputs: enables drift and length coverage")
@click.option("--eval", "eval_path", help="the held-out eval split: enables leakage")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="TOML config (default ./fineaudit.toml, else [tool.fineaudit] in ./pyproject.toml)")
@click.option("--only", help="run only these checks (comma-separated)")
@click.option("--skip", help="skip these checks (comma-separated)")
@click.option("--set", "settings", multiple=True, metavar="CHECK.KEY=VALUE", help="override a config value")
@click.option("--field", "field_map", multiple=True, metavar="ROLE=COLUMN",
              help="map a layout role to a column, e.g. --field label=category (repeatable)")
@click.option("--json", "json_out", metavar="PATH|-", help="write the JSON report")
@click.option("--html", "html_out", metavar="PATH", help="write the HTML report")
@click.option("--markdown", "markdown_out", metavar="PATH|-", help="write the Markdown report")
@click.option("--junit", "junit_out", metavar="PATH", help="write a JUnit XML report")
@click.option("--max-findings", type=click.IntRange(min=0), default=None, help="findings kept per check (0 = all)")
@click.option("--fail-on", type=click.Choice(["fail", "warn"]), default=None, help="what fails the verdict")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", help="where the work runs")
@click.option("--scheduler", metavar="ADDRESS", help="Dask scheduler address (default: a local cluster)")
@click.option("--quiet", "-q", is_flag=True,
              help="print only the verdict line per dataset (and its blocking checks when not ready)")
@click.option("--no-progress", is_flag=True, help="no progress bars")
@click.option("--skip-non-datasets", is_flag=True,
              help="skip, saying so, a .json DATA that is one JSON object of no known layout (package.json, "
                   "a report): the pre-commit hook's file pattern takes every .json")
@click.option("--no-cache", is_flag=True,
              help=f"audit again even when a cached result matches (cache: ${CACHE_ENV} or ./{CACHE_DIRNAME})")
@click.option("--split", help="Hub datasets (org/name): audit this split alone (default: train, test as eval)")
@click.option("--config-name", help="Hub datasets (org/name): the dataset's configuration (subset)")
@click.option("--revision", help="Hub datasets (org/name): a branch, tag or commit")
def audit_command(data: Sequence[str], fmt: str | None, production: str | None, eval_path: str | None,
                  config_path: str | None, only: str | None, skip: str | None, settings: Sequence[str],
                  json_out: str | None, html_out: str | None, markdown_out: str | None,
                  junit_out: str | None, max_findings: int | None, fail_on: str | None, engine: str,
                  scheduler: str | None, quiet: bool, no_progress: bool, no_cache: bool,
                  field_map: Sequence[str] = (), split: str | None = None, config_name: str | None = None,
                  revision: str | None = None, skip_non_datasets: bool = False) -> None:
    """Audit each DATA (file, quoted glob of shards, or folder); one report per DATA."""
    from fineaudit.audit import audit, resolve_config
    from fineaudit.dataset.hub import is_hub_name

    outputs = (json_out, markdown_out, html_out, junit_out)
    if outputs.count("-") > 1:
        raise click.BadParameter("only one report can go to stdout ('-'); write the others to files")
    if scheduler and engine != "dask":
        raise click.BadParameter("--scheduler needs --engine dask")
    for target in outputs:
        check_writable(target)
    refuse_inputs({"--json": json_out, "--markdown": markdown_out, "--html": html_out, "--junit": junit_out},
                  [*data, eval_path, production])
    config = resolve_config(config_path, settings, fail_on=fail_on, max_findings=max_findings, format=fmt,
                            fields=parse_field_map(field_map))
    if skip_non_datasets:
        data = datasets_among(data, config.read_options())
        if not data:  # only configs and reports were given: nothing to judge, nothing to block
            sys.exit(EXIT_READY)
    if len(data) > 1:
        open_every_input(data)
    to_stdout = "-" in outputs  # then stdout holds only that report: the table goes to stderr
    console = Console(file=sys.stderr if to_stdout else sys.stdout, width=_width(), highlight=False)
    cache = None if no_cache else ResultCache()
    reports = []
    for path in data:
        selection: dict[str, Any] = {"only": _split_names(only), "skip": _split_names(skip)}
        hub: dict[str, Any] = {"split": split, "config_name": config_name, "revision": revision}
        # a Hub name has no local bytes to key the cache by: always audited afresh
        key = cache.key(path, config, eval=eval_path, production=production, **selection) \
            if cache and not is_hub_name(path) else ""
        report = cache.get(key) if cache and key else None
        cached = report is not None
        if report is None:
            report = audit(path, production=production, eval=eval_path, config=config, **selection, **hub,
                           engine=engine, scheduler=scheduler, progress=not (quiet or no_progress))
            _store(cache if key else None, key, report)
        reports.append(report)
        _show(report, console, quiet, cached)
    _write_outputs(reports, json_out, html_out, markdown_out, junit_out)
    _annotate(reports, to_stdout)
    sys.exit(EXIT_READY if all(r.passed for r in reports) else EXIT_NOT_READY)


def datasets_among(data: Sequence[str], options: ReadOptions) -> list[str]:
    """DATA without the .json files that are no dataset, each named on stderr (--skip-non-datasets)."""
    from fineaudit.dataset.loaders import is_json_document

    kept = []
    for path in data:
        if is_json_document(path, options):
            click.echo(f"fineaudit: {path}: skipped: one JSON object of no known layout, not a dataset", err=True)
        else:
            kept.append(path)
    return kept


def open_every_input(data: Sequence[str]) -> None:
    """Open each local DATA before auditing any: a missing or unsupported third path is exit 2
    before the first verdict is printed, not after it with no report written at all."""
    from fineaudit.dataset.hub import is_hub_name
    from fineaudit.dataset.loaders import open_source

    for path in data:
        if not is_hub_name(path):
            open_source(path, "data")


def parse_field_map(items: Sequence[str]) -> dict[str, str] | None:
    """`--field ROLE=COLUMN` options as a field map (validated with the config)."""
    out = {}
    for item in items:
        role, sep, column = item.partition("=")
        if not sep or not role.strip() or not column.strip():
            raise click.BadParameter(f"{item!r}: expected ROLE=COLUMN, e.g. label=category", param_hint="--field")
        out[role.strip()] = column.strip()
    return out or None


def _store(cache: ResultCache | None, key: str, report: Report) -> None:
    # an `error` may be transient (memory, a model that failed to load): audit again next time
    if cache is None or any(c.status is Status.ERROR for c in report.checks.values()):
        return
    try:
        cache.put(key, report)
    except OSError as exc:  # a cache that cannot be written must not fail the gate
        click.echo(f"fineaudit: warning: result cache not written ({exc})", err=True)


def _annotate(reports: list[Report], to_stdout: bool) -> None:
    from fineaudit.render.annotations import in_github_actions, render_annotations

    if in_github_actions():
        # the runner reads workflow commands on stdout and stderr; keep stdout a clean report
        (sys.stderr if to_stdout else sys.stdout).write(render_annotations(reports))


def _width() -> int | None:
    from fineaudit.render.terminal import WIDTH

    return None if sys.stdout.isatty() else WIDTH


def _show(report: Report, console: Console, quiet: bool, cached: bool) -> None:
    from rich.text import Text

    from fineaudit.render.terminal import quiet_lines, render_terminal

    if not quiet:
        render_terminal(report, console)
        if cached:
            console.print(Text("(cached result: the file, config and fineaudit are unchanged; "
                               "--no-cache audits again)", style="dim"))
        return
    for line in quiet_lines(report, cached):  # quiet still says why, in one line per blocking check
        console.print(line, soft_wrap=True)


def _write_outputs(reports: list[Report], json_out: str | None, html_out: str | None,
                   markdown_out: str | None, junit_out: str | None) -> None:
    from fineaudit.render import write_report  # the renderer table and its one atomic write

    for kind, target in (("json", json_out), ("markdown", markdown_out), ("html", html_out), ("junit", junit_out)):
        if target:
            write_report(kind, reports, target)


_emit = emit  # every report, sample and config file goes through the one atomic writer


@cli.command("checks")
@click.argument("names", nargs=-1)
def checks_command(names: Sequence[str]) -> None:
    """List the checkers: what each looks at, when it runs, its defaults and finding codes.

    With NAMES, each one's whole description: why it matters and how to fix what it finds."""
    from fineaudit.registry import load_checkers

    checkers = load_checkers()
    unknown = [n for n in names if n not in checkers]
    if unknown:
        raise FineauditError(f"unknown check {unknown[0]!r}; valid checks: {', '.join(checkers)}")
    for name, cls in checkers.items():
        if names and name not in names:
            continue
        runs = f"with --{cls.needs}" if cls.needs else cls.runs_when
        click.echo(f"{name}  (runs {runs})")
        text = cls.documentation() if names else cls.describe()
        click.echo("\n".join(f"    {line}" if line else "" for line in text.splitlines()))
        defaults = ", ".join(f"{k}={v!r}" for k, v in cls.defaults().items())
        if defaults:
            click.echo(f"    defaults: {defaults}")
        for code, meaning in cls.codes.items():
            click.echo(f"    {code}: {meaning}")
        click.echo("")


@cli.command("init")
@click.option("--path", "target", default="fineaudit.toml", show_default=True, help="where to write it")
@click.option("--force", is_flag=True, help="overwrite an existing file")
def init_command(target: str, force: bool) -> None:
    """Write a commented fineaudit.toml with every default."""
    from fineaudit.config import render_default_config
    from fineaudit.registry import load_checkers

    path = Path(target)
    if path.exists() and not force:
        raise FineauditError(f"{path} exists; pass --force to overwrite it")
    _emit(str(path), render_default_config(load_checkers()))
    click.echo(f"wrote {path}")


@cli.command("dedup")
@click.argument("data")
@click.option("--out", required=True,
              help="where to write the deduplicated dataset (a new folder for shards)")
@click.option("--format", "fmt", type=click.Choice(FORMAT_CHOICES), default=None, help="record layout")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="TOML config")
@click.option("--set", "settings", multiple=True, metavar="CHECK.KEY=VALUE", help="override a config value")
@click.option("--quiet", "-q", is_flag=True, help="no summary line")
def dedup_command(data: str, out: str, fmt: str | None, config_path: str | None,
                  settings: Sequence[str], quiet: bool) -> None:
    """Write DATA without exact and near duplicates (the first of each group is kept).

    DATA is a file, or shards (a glob or a folder) deduplicated together and written as the
    same shards into the new folder OUT. OUT.removed.jsonl lists what went and why."""
    from fineaudit.audit import resolve_config
    from fineaudit.commands.dedup import dedup_dataset

    config = resolve_config(config_path, settings, format=fmt)
    check_writable(f"{out}.removed.jsonl")
    # the sidecar too: `dedup X.removed.jsonl --out X` would write its sidecar over its input
    refuse_inputs({"--out": out, "--out (its .removed.jsonl)": f"{out}.removed.jsonl"}, [data])
    _refuse_compressed(data)
    summary = dedup_dataset(data, out, config=config)
    if not quiet:
        click.echo(summary)


def _refuse_compressed(data: str) -> None:
    """dedup copies lines byte for byte into a file of the input's format: not (yet) compressed."""
    from fineaudit.dataset.loaders import compression_of, open_source

    source = open_source(data, "data")
    packed = next((f for f in source.files if compression_of(f)), None)
    if packed is not None:
        raise FineauditError(f"{packed}: dedup writes uncompressed files; decompress it first "
                             f"(audit and sample read {compression_of(packed)} files as they are)")


@cli.command("sample")
@click.argument("data")
@click.option("-n", "count", type=click.IntRange(min=1), required=True, help="how many records")
@click.option("--seed", type=int, default=0, show_default=True, help="same seed, same sample")
@click.option("--out", help="write here (.md for Markdown, .jsonl for JSON Lines); default stdout Markdown")
@click.option("--format", "fmt", type=click.Choice(FORMAT_CHOICES), default=None, help="record layout")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="TOML config")
def sample_command(data: str, count: int, seed: int, out: str | None, fmt: str | None,
                   config_path: str | None) -> None:
    """A stratified random sample for hand review, as Markdown or JSONL."""
    from fineaudit.audit import resolve_config
    from fineaudit.commands.sampling import sample_dataset

    if out and Path(out).suffix not in SAMPLE_SUFFIXES:
        raise click.BadParameter(f"{out}: write the sample as .md (Markdown) or .jsonl (JSON Lines)",
                                 param_hint="--out")
    check_writable(out)
    refuse_inputs({"--out": out}, [data])
    config = resolve_config(config_path, (), format=fmt)
    text = sample_dataset(data, count, seed=seed, config=config,
                          as_jsonl=bool(out and out.endswith(".jsonl")))
    _emit(out or "-", text)


SAMPLE_SUFFIXES = (".md", ".markdown", ".txt", ".jsonl")


@contextmanager
def _stoppable() -> Iterator[None]:
    """Signal handlers for the run (main thread only: a library caller in a thread keeps its own)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
        signal.signal(sig, on_signal)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        reset()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; every failure to judge is one line on stderr and exit 2, never a traceback."""
    try:
        with _stoppable():
            cli.main(args=list(argv) if argv is not None else None, prog_name="fineaudit", standalone_mode=False)
    except Stopped as exc:
        return _error(f"stopped by {exc}; nothing was written")
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) or exc.code is None else EXIT_ERROR
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        return _error(exc.format_message())
    except click.Abort:
        return _error("aborted")
    except FineauditError as exc:
        return _error(str(exc))
    except KeyboardInterrupt:
        return _error("interrupted; nothing was written")
    except Exception as exc:  # noqa: BLE001 - a gate must not print a traceback at users
        if os.environ.get("FINEAUDIT_DEBUG"):
            raise
        return _error(f"internal error: {type(exc).__name__}: {exc} (set FINEAUDIT_DEBUG=1 for a traceback)")
    return EXIT_READY


def _error(message: str) -> int:
    from fineaudit.render.safe_text import one_line  # file names and keys from data: escaped, masked

    click.echo(f"fineaudit: error: {one_line(message)}", err=True)
    return EXIT_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
