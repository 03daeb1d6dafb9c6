"""Helpers of the hostile battery: input fingerprints (byte-identical before and after every case)
and small datasets."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def snapshot(*roots: Path) -> dict[str, str]:
    """sha256 of every regular file under these paths (a file or a folder), by path."""
    out: dict[str, str] = {}
    for root in roots:
        files = [root] if not root.is_dir() else sorted(p for p in root.rglob("*") if p.is_file())
        for file in files:
            if file.is_file():
                out[str(file)] = hashlib.sha256(file.read_bytes()).hexdigest()
    return out


def chats(n: int, prefix: str = "question") -> list[dict[str, Any]]:
    return [{"messages": [{"role": "user", "content": f"{prefix} number {i} about topic {i * 7919 % 1000}"},
                          {"role": "assistant", "content": f"a distinct answer {i} with detail {i * 104729 % 997}"}]}
            for i in range(n)]


def write_records(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def cli_subprocess(*args: str, cwd: Path, env: dict[str, str] | None = None,
                   timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The real CLI in its own process (for what in-process runs cannot show: signals, limits,
    per-process caches)."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-c", "from fineaudit.cli import main; raise SystemExit(main())",
                           *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)
