"""Make an older commit of fineaudit importable beside the installed one, for before/after runs.

    python benchmarks/baseline_env.py db62321 /tmp/fa-base
    export PYTHONPATH=/tmp/fa-base:/tmp/fa-base-meta      # what it prints
    cd /tmp && python -c "import fineaudit; print(fineaudit.__file__)"   # /tmp/fa-base/fineaudit/...

It adds a git worktree of the commit, and beside it (DEST-meta) a `fineaudit-*.dist-info`
whose entry points are that commit's own: checkers are found through the installed
distribution's entry points, which name the newer checkers that the old commit lacks (a
plugin that fails to load is a fatal error). importlib.metadata takes the first distribution
of a name on sys.path, so PYTHONPATH's copy wins over the installed one. Run `python -c` and
`python -m` from outside the repository: they put the working folder first on sys.path.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import distribution
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def entry_points_txt(pyproject: Path) -> str:
    project = tomllib.loads(pyproject.read_text())["project"]
    lines = []
    for group, entries in [("console_scripts", project.get("scripts", {})),
                           *sorted(project.get("entry-points", {}).items())]:
        lines += [f"[{group}]", *(f"{name} = {value}" for name, value in sorted(entries.items())), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("commit")
    ap.add_argument("dest", type=Path)
    args = ap.parse_args(argv)
    if not args.dest.exists():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(args.dest), args.commit], check=True)
    installed = distribution("fineaudit")
    info = Path(str(installed.locate_file(""))) / f"fineaudit-{installed.version}.dist-info"
    meta = args.dest.with_name(args.dest.name + "-meta")
    target = meta / info.name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    shutil.copy(info / "METADATA", target / "METADATA")
    (target / "entry_points.txt").write_text(entry_points_txt(args.dest / "pyproject.toml"))
    print(f"export PYTHONPATH={args.dest}:{meta}", file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
