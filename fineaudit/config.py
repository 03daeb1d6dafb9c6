"""Config: TOML files, `--set` overrides, validation against the registered checkers.

Everything is validated before any data is read: an unknown check or key, or a value of the
wrong type, is a ConfigError (exit 2) that names the valid choices.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fineaudit.core import Checker, ConfigError
from fineaudit.dataset.formats import FIELD_ROLES, FORMAT_CHOICES, ReadOptions

# top-level keys: name -> (default, one-line help)
TOP_LEVEL: dict[str, tuple[Any, str]] = {
    "format": ("auto", "record layout: auto, chat, instruction, completion, classification, preference, kto, text"),
    "fail_on": ("fail", "what makes the verdict fail: 'fail', or 'warn' to block on warnings too"),
    "label_field": ("", "synonym of fields.label: the column holding the label (e.g. 'category'); '' = "
                        "label, labels, category, class, intent or target when present"),
    "production_field": ("", "field of --production records holding the input text; '' = prompt, text, "
                             "input, question, query, message, ... else the longest string field"),
    "max_findings": (50, "findings kept per check in reports (0 keeps all)"),
    "seed": (0, "seed of every random choice (samples, permutations): same seed, same report"),
    "batch_size": (5000, "records per batch streamed through the checkers"),
    "workers": (0, "processes for the heavy passes; 0 = one per core"),
    "max_record_bytes": (16 << 20, "a record (line) longer than this is an unparsable-record finding, never parsed"),
}
# the least value of each numeric top-level key
TOP_LEVEL_MIN: dict[str, int] = {"max_findings": 0, "seed": 0, "batch_size": 1, "workers": 0,
                                 "max_record_bytes": 1024}
CHECK_KEYS: dict[str, str] = {
    "enabled": "run this check",
    "blocking": "a fail of this check fails the verdict",
}


@dataclass(frozen=True)
class CheckSettings:
    enabled: bool
    blocking: bool
    params: Any


@dataclass(frozen=True)
class Config:
    format: str = "auto"
    fail_on: str = "fail"
    label_field: str = ""
    production_field: str = ""
    max_findings: int = 50
    seed: int = 0
    batch_size: int = 5000
    workers: int = 0
    max_record_bytes: int = 16 << 20
    checks: Mapping[str, CheckSettings] = field(default_factory=dict)
    fields: Mapping[str, str] = field(default_factory=dict)  # layout role -> column (--field)
    path: str | None = None  # where it was read from, for messages

    def read_options(self) -> ReadOptions:
        """How records are read: the field map, and the output schema validity is judged by."""
        from fineaudit.dataset.layout_rules import load_output_schema  # rules import layouts, not config

        settings = self.checks.get("format")
        schema_path = getattr(settings.params, "output_schema", "") if settings else ""
        return ReadOptions.of(self.fields, self.label_field or None,
                              load_output_schema(schema_path) if schema_path else "")


def find_config_file(start: Path | None = None) -> tuple[Path, bool] | None:
    """./fineaudit.toml, else ./pyproject.toml if it has [tool.fineaudit]; (path, is_pyproject)."""
    here = start or Path.cwd()
    if (here / "fineaudit.toml").is_file():
        return here / "fineaudit.toml", False
    pyproject = here / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            # silently ignoring it would run without the repository's thresholds
            raise ConfigError(f"{pyproject}: invalid TOML: {exc}") from None
        if "fineaudit" in data.get("tool", {}):
            return pyproject, True
    return None


def read_toml(path: Path, is_pyproject: bool | None = None) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    if is_pyproject or path.name == "pyproject.toml":
        return data.get("tool", {}).get("fineaudit", {})
    return data.get("tool", {}).get("fineaudit", data) if "tool" in data else data


def load_config(checkers: Mapping[str, type[Checker]], path: str | os.PathLike | None = None,
                data: Mapping[str, Any] | None = None, overrides: Iterable[str] = (),
                discover: bool = True) -> Config:
    """Build a validated Config: file (or discovered file) < data < --set overrides."""
    raw: dict[str, Any] = {}
    source = None
    if path is not None:
        raw, source = read_toml(Path(path)), str(path)
    elif discover and (found := find_config_file()):
        raw, source = read_toml(*found), str(found[0])
    if source is not None:
        raw = _paths_from_folder(raw, Path(source).parent, checkers)
    raw = _merge(raw, dict(data or {}))
    for item in overrides:
        raw = _merge(raw, parse_override(item))
    return build_config(raw, checkers, source)


def _paths_from_folder(raw: dict[str, Any], folder: Path, checkers: Mapping[str, type[Checker]]) -> dict[str, Any]:
    """Relative paths in a config file (fields marked `path`) name files beside it, wherever the
    audit runs from; a value that names no file there (an encoding, a model alias) stays as is."""
    checks = raw.get("checks")
    if not isinstance(checks, Mapping):
        return raw
    out = {**raw, "checks": dict(checks)}
    for name, table in checks.items():
        cls = checkers.get(name)
        if cls is None or not isinstance(table, Mapping):
            continue
        marked = {f.name for f in dataclasses.fields(cls.Params) if f.metadata.get("path")}
        fixed = {k: str(folder / v) for k, v in table.items()
                 if k in marked and isinstance(v, str) and v and not Path(v).is_absolute() and (folder / v).exists()}
        out["checks"][name] = {**table, **fixed}
    return out


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def parse_override(item: str) -> dict[str, Any]:
    """`CHECK.KEY=VALUE` (or a top-level `KEY=VALUE`) as a config fragment; VALUE is TOML or a bare string."""
    name, sep, text = item.partition("=")
    if not sep or not name.strip():
        raise ConfigError(f"--set {shown(item)}: expected CHECK.KEY=VALUE, e.g. near_duplicates.threshold=0.7")
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    parts = name.strip().split(".")
    if len(parts) == 1:
        return {parts[0]: value}
    if len(parts) != 2:
        raise ConfigError(f"--set {shown(item)}: expected CHECK.KEY=VALUE")
    if parts[0] == "fields":  # --set fields.label=category, like [tool.fineaudit.fields]
        return {"fields": {parts[1]: value}}
    return {"checks": {parts[0]: {parts[1]: value}}}


def build_config(raw: Mapping[str, Any], checkers: Mapping[str, type[Checker]], source: str | None = None) -> Config:
    where = f"{source}: " if source else ""
    unknown = sorted(set(raw) - set(TOP_LEVEL) - {"checks", "fields"})
    if unknown:
        raise ConfigError(f"{where}unknown config key {shown(unknown[0])}; valid keys: "
                          f"{', '.join([*TOP_LEVEL, 'checks', 'fields'])}")
    top = {k: _coerce(raw.get(k, default), type(default), k, where) for k, (default, _) in TOP_LEVEL.items()}
    if top["format"] not in FORMAT_CHOICES:
        raise ConfigError(f"{where}format {shown(top['format'])} is not one of {', '.join(FORMAT_CHOICES)}")
    if top["fail_on"] not in ("fail", "warn"):
        raise ConfigError(f"{where}fail_on must be 'fail' or 'warn', not {shown(top['fail_on'])}")
    for key, least in TOP_LEVEL_MIN.items():
        if top[key] < least:
            raise ConfigError(f"{where}{key} must be at least {least}, not {top[key]}")
    checks_raw = raw.get("checks", {})
    if not isinstance(checks_raw, Mapping):
        raise ConfigError(f"{where}'checks' must be a table of check names")
    unknown = sorted(set(checks_raw) - set(checkers))
    if unknown:
        raise ConfigError(f"{where}unknown check {shown(unknown[0])}; valid checks: {', '.join(sorted(checkers))}")
    checks = {name: _check_settings(cls, checks_raw.get(name, {}), where) for name, cls in checkers.items()}
    return Config(**top, checks=checks, fields=_fields(raw.get("fields", {}), where), path=source)


def _fields(raw: Any, where: str) -> dict[str, str]:
    """The field map `[tool.fineaudit.fields]`: layout role -> the data's column."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}'fields' must be a table of ROLE = \"COLUMN\"")
    for role, column in raw.items():
        if role not in FIELD_ROLES:
            raise ConfigError(f"{where}fields: unknown role {shown(role)}; valid roles: {', '.join(FIELD_ROLES)}")
        if not isinstance(column, str) or not column:
            raise ConfigError(f"{where}fields.{role} must name a column, not {shown(column)}")
    return dict(raw)


def _check_settings(cls: type[Checker], raw: Any, where: str) -> CheckSettings:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}checks.{cls.name} must be a table")
    param_fields = {f.name: f for f in dataclasses.fields(cls.Params)}
    valid = [*CHECK_KEYS, *param_fields]
    unknown = sorted(set(raw) - set(valid))
    if unknown:
        raise ConfigError(f"{where}unknown key {shown(unknown[0])} for check {cls.name!r}; valid keys: {', '.join(valid)}")
    hints = typing.get_type_hints(cls.Params)
    values = {k: _coerce(v, hints[k], f"{cls.name}.{k}", where) for k, v in raw.items() if k in param_fields}
    for key, value in values.items():
        check_range(param_fields[key], value, f"{cls.name}.{key}", where)
        if key == "output_schema" and isinstance(value, str) and value:
            check_schema_refs(value, f"{where}{cls.name}.{key}")
    try:
        params = cls.Params(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}invalid settings for {cls.name}: {exc}") from None
    return CheckSettings(enabled=_coerce(raw.get("enabled", True), bool, f"{cls.name}.enabled", where),
                         blocking=_coerce(raw.get("blocking", getattr(cls, "blocking_default", True)), bool,
                                          f"{cls.name}.blocking", where),
                         params=params)


def shown(value: Any, limit: int = 60) -> str:
    """A config value as an error message may quote it: repr'd, secrets masked (a token pasted
    into the wrong key must not reach CI logs whole), and cut to `limit` characters."""
    from fineaudit.text.content_patterns import redact_secrets  # loaded only when an error is shown

    text = redact_secrets(repr(value))
    return text if len(text) <= limit else text[:limit - 1] + "…"


def value_range(f: dataclasses.Field[Any]) -> tuple[float, float]:
    """The valid range of a numeric Params field: metadata {"min": .., "max": ..} where the checker
    gives one; else at least 0 (counts, thresholds, sizes), and at most 1 for a `*fraction*`."""
    low = f.metadata.get("min", 0)
    high = f.metadata.get("max", 1 if "fraction" in f.name else math.inf)
    return float(low), float(high)


def check_range(f: dataclasses.Field[Any], value: Any, key: str, where: str) -> None:
    """Every number in a check's settings is finite and in its field's range: `nan` compares false
    with everything, so a nan threshold would silently pass what it should stop."""
    numbers = value if isinstance(value, (list, tuple)) else [value]
    low, high = value_range(f)
    for number in numbers:
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            continue
        if not math.isfinite(number) or not low <= number <= high:
            shown = f"in {low:g}..{high:g}" if math.isfinite(high) else f"of at least {low:g}"
            raise ConfigError(f"{where}{key} must be a finite number {shown}, not {number!r}")


def check_schema_refs(path: str, key: str) -> None:
    """A JSON Schema whose `$ref`s all point inside the file (`#...`): a remote or file `$ref`
    would be fetched at run time (network, or a file outside the schema) and is refused."""
    try:
        schema = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError):
        return  # unreadable or not JSON: the checker's own validation says so, more precisely
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for keyword in ("$ref", "$dynamicRef", "$recursiveRef"):
                ref = node.get(keyword)
                if isinstance(ref, str) and not ref.startswith("#"):
                    raise ConfigError(f"{key}: {path}: {keyword} {ref[:80]!r} points outside the schema file; "
                                      "only local references ('#/$defs/...') are resolved, nothing is fetched")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _coerce(value: Any, hint: Any, key: str, where: str) -> Any:
    """Check a TOML value against a Params field type; ints widen to floats, lists to tuples."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return _coerce(value, option, key, where)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0]
    if origin in (list, tuple) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}{key} must be a list, not {shown(value)}")
        args = typing.get_args(hint)
        item = args[0] if args else Any
        items = [v if item is Any else _coerce(v, item, key, where) for v in value]
        return tuple(items) if (origin or hint) is tuple else items
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}{key} must be a finite number, not {shown(value)}")
    if hint is bool and not isinstance(value, bool):
        raise ConfigError(f"{where}{key} must be true or false, not {shown(value)}")
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{where}{key} must be an integer, not {shown(value)}")
    if hint in (str, float) and not isinstance(value, hint):
        raise ConfigError(f"{where}{key} must be a {'string' if hint is str else 'number'}, not {shown(value)}")
    return value


def render_default_config(checkers: Mapping[str, type[Checker]]) -> str:
    """A fineaudit.toml with every default and a one-line comment for each."""
    lines = ["# fineaudit configuration: every setting with its default.",
             "# Docs: `fineaudit checks` lists each check and its finding codes.", ""]
    for key, (default, help_) in TOP_LEVEL.items():
        lines.append(f"{key} = {_toml_value(default)}  # {help_}")
    lines += ["", "[fields]", "# map a layout role to your data's column (roles: " + ", ".join(FIELD_ROLES) + ")",
              '# label = "category"']
    for name, cls in checkers.items():
        lines += ["", f"[checks.{name}]", f"# {cls.describe()}"]
        lines.append(f"enabled = true  # {CHECK_KEYS['enabled']}")
        lines.append(f"blocking = {_toml_value(getattr(cls, 'blocking_default', True))}  # {CHECK_KEYS['blocking']}")
        for f in dataclasses.fields(cls.Params):
            default = getattr(cls.Params(), f.name)
            comment = f.metadata.get("help", "")
            if default is None:
                lines.append(f"# {f.name} = (unset)  # {comment}")
            else:
                lines.append(f"{f.name} = {_toml_value(default)}  # {comment}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return repr(value)
