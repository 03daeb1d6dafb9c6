"""The package as users get it: `python -m build` makes an sdist and a wheel from the working tree,
the wheel (built from the sdist, so the sdist is complete) installs into a fresh virtual
environment, and from outside the source tree it audits sample_data, lists the checks and writes
the HTML report.

The fresh venv reaches this venv's dependencies (torch, datasets, ...) through a folder of links
to them that leaves out every fineaudit entry (the editable install's finder and metadata), so
the `fineaudit` it imports is the wheel's: the test checks `fineaudit.__file__`.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

CHANGELOG = REPO / "CHANGELOG.md"
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
CHECK_NAMES = ["size", "format", "exact_duplicates", "near_duplicates", "conflicting_labels", "leakage",
               "label_balance", "length", "drift", "content"]


def test_the_changelog_names_this_version_and_its_tag() -> None:
    """The newest released section is the version in pyproject.toml, so `rev: vX.Y.Z` and
    `uses: ...@vX.Y.Z` name what the CHANGELOG describes."""
    headings = re.findall(r"^## \[([^\]]+)\]", CHANGELOG.read_text(encoding="utf-8"), re.M)
    released = [h for h in headings if h != "Unreleased"]
    assert released and released[0] == VERSION
    assert f"[{VERSION}]: " in CHANGELOG.read_text(encoding="utf-8")  # the link to the tag v<version>


def test_py_typed_ships_with_the_package() -> None:
    assert (REPO / "fineaudit" / "py.typed").is_file()


def source_copy(dest: Path) -> Path:
    """The working tree's files that git would carry (tracked and new, not ignored): what a
    release is built from, without build/ or egg-info leftovers in the repository."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        src = REPO / name
        if src.is_file() and not src.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def dependencies_without_fineaudit(dest: Path) -> Path:
    """A folder of links to this venv's installed packages, every fineaudit entry left out."""
    dest.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if "fineaudit" not in entry.name.lower() and entry.suffix != ".pth":
            (dest / entry.name).symlink_to(entry)
    return dest


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(sdist, wheel) built by `python -m build` without network: setuptools from this venv (which
    builds wheels itself since 70.1, so the `wheel` package in build-system.requires is not checked)."""
    root = tmp_path_factory.mktemp("release")
    tree = source_copy(root / "src")
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--skip-dependency-check", "--outdir", str(root / "dist"),
                           str(tree)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (sdist,), (wheel,) = (sorted((root / "dist").glob(p)) for p in ("*.tar.gz", "*.whl"))
    return sdist, wheel


@pytest.mark.slow
def test_the_sdist_and_wheel_carry_schemas_py_typed_and_extras(built: tuple[Path, Path]) -> None:
    sdist, wheel = built
    assert wheel.name == f"fineaudit-{VERSION}-py3-none-any.whl"
    schemas = sorted(p.name for p in (REPO / "fineaudit" / "schemas").glob("*.json"))
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        metadata = whl.read(f"fineaudit-{VERSION}.dist-info/METADATA").decode()
        entry_points = whl.read(f"fineaudit-{VERSION}.dist-info/entry_points.txt").decode()
    assert {f"fineaudit/schemas/{s}" for s in schemas} <= names and "fineaudit/py.typed" in names
    assert "fineaudit/render/html.py" in names and not any(n.startswith("tests/") for n in names)
    for extra in ("drift", "dask", "transformers"):
        assert f"Provides-Extra: {extra}" in metadata
    assert "fineaudit = fineaudit.cli:main" in entry_points
    for name in CHECK_NAMES:
        assert f"{name} = fineaudit.checkers." in entry_points
    with tarfile.open(sdist) as tar:
        members = {m.split("/", 1)[1] for m in tar.getnames() if "/" in m}
    assert {f"fineaudit/schemas/{s}" for s in schemas} <= members and "fineaudit/py.typed" in members


@pytest.mark.slow
def test_the_wheel_in_a_fresh_venv_audits_lists_checks_and_writes_html(
        built: tuple[Path, Path], tmp_path: Path) -> None:
    _, wheel = built
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python, fineaudit = venv / "bin" / "python", venv / "bin" / "fineaudit"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "zz_dependencies.pth").write_text(f"{dependencies_without_fineaudit(tmp_path / 'deps')}\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                    "--quiet", "--disable-pip-version-check", str(wheel)], check=True, timeout=300)

    work = tmp_path / "elsewhere"  # outside the source tree: nothing there to import by accident
    work.mkdir()
    env = {**os.environ, "FINEAUDIT_CACHE_DIR": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": "", "PATH": f"{venv / 'bin'}:/usr/bin:/bin"}
    env.pop("VIRTUAL_ENV", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*args], cwd=work, env=env, capture_output=True, text=True, timeout=600)

    where = run(str(python), "-c", "import fineaudit; print(fineaudit.__file__, fineaudit.__version__)")
    assert where.stdout.split() == [str(site / "fineaudit" / "__init__.py"), VERSION], where.stderr

    audited = run(str(fineaudit), "audit", str(REPO / "sample_data" / "train.jsonl"), "--html", "report.html", "-q")
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert audited.stdout.startswith("READY")
    html = (work / "report.html").read_text(encoding="utf-8")
    assert html.lower().startswith("<!doctype html>") and "train.jsonl" in html

    checks = run(str(fineaudit), "checks")
    assert checks.returncode == 0, checks.stderr
    listed = re.findall(r"^(\w+)  \(runs ", checks.stdout, re.M)
    assert set(CHECK_NAMES) <= set(listed)
