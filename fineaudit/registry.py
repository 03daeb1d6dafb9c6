"""Finding checkers: built-ins and plugins arrive through the same entry-point group."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from functools import lru_cache
from importlib.metadata import entry_points

from fineaudit.core import Checker, FineauditError

GROUP = "fineaudit.checkers"


class PluginError(FineauditError):
    pass


@lru_cache(maxsize=1)
def load_checkers() -> dict[str, type[Checker]]:
    """Every registered checker class by name, in report order (then by name)."""
    found: dict[str, type[Checker]] = {}
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        try:
            cls = ep.load()
        except Exception as exc:
            package = ep.dist.name if ep.dist else ep.value
            raise PluginError(f"checker plugin {ep.name!r} from package {package!r} failed to load: "
                              f"{type(exc).__name__}: {exc}") from exc
        _validate(ep.name, cls)
        if cls.name in found and found[cls.name] is not cls:
            raise PluginError(f"two checkers are named {cls.name!r}: {_origin(found[cls.name])} and {_origin(cls)}")
        found[cls.name] = cls
    return dict(sorted(found.items(), key=lambda kv: (kv[1].order, kv[0])))


def _validate(entry_name: str, cls: object) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Checker)):
        raise PluginError(f"entry point {entry_name!r} in {GROUP} is not a fineaudit Checker subclass")
    if not cls.name:
        raise PluginError(f"checker {cls.__name__} has no name")
    if not dataclasses.is_dataclass(cls.Params):
        raise PluginError(f"checker {cls.name!r}: Params must be a dataclass")
    if not (isinstance(cls.after, tuple) and all(isinstance(name, str) for name in cls.after)):
        raise PluginError(f"checker {cls.name!r}: `after` must be a tuple of check names, like ('length',)")
    stray = sorted(code for code in cls.codes if not code.startswith(f"{cls.name}."))
    if stray:
        raise PluginError(f"checker {cls.name!r}: finding code {stray[0]!r} must start with '{cls.name}.'")


def _origin(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def undeclared_codes(cls: type[Checker], codes: Iterable[str]) -> list[str]:
    """Codes a checker emitted without declaring them in `codes` (`fineaudit checks` lists
    those; a code users cannot look up is a checker bug, and the run fails closed on it)."""
    return sorted(set(codes) - set(cls.codes))
