"""Finding checkers: built-ins and plugins arrive through the same entry-point group."""
from __future__ import annotations

import dataclasses
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
        found[cls.name] = cls
    return dict(sorted(found.items(), key=lambda kv: (kv[1].order, kv[0])))


def _validate(entry_name: str, cls: object) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Checker)):
        raise PluginError(f"entry point {entry_name!r} in {GROUP} is not a fineaudit Checker subclass")
    if not cls.name:
        raise PluginError(f"checker {cls.__name__} has no name")
    if not dataclasses.is_dataclass(cls.Params):
        raise PluginError(f"checker {cls.name!r}: Params must be a dataclass")
