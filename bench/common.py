"""What the benchmark scripts share: the machine they ran on, and the backend as it was at an earlier commit."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def machine() -> str:
    """One line naming this machine: system, CPU, cores, memory and Python."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    total = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:", 1)[1].split()[0])
        total = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, IndexError, ValueError):
        pass
    return (
        f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores{total}, "
        f"Python {platform.python_version()}"
    )


def export_tree(ref: str, into: Path, paths: tuple[str, ...] = ("backend", "gunicorn.conf.py")) -> Path:
    """``paths`` as they were at git commit ``ref``, unpacked into ``into`` (the working tree is untouched)."""
    archive = subprocess.run(["git", "archive", ref, *paths], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into
