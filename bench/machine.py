"""The machine and versions a run measured on, for the report's first table."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from typing import Any

from bench.revisions import ROOT


def _cmd(*argv: str) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, cwd=ROOT)
        return out.stdout.strip() or out.stderr.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def _package(path: str) -> str:
    manifest = ROOT / "bench" / "node" / "node_modules" / path / "package.json"
    return str(json.loads(manifest.read_text())["version"]) if manifest.exists() else "?"


def machine() -> dict[str, Any]:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(
                line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    redis = _cmd("redis-server", "--version")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": _cmd("node", "--version"),
        "ai": _package("ai"),
        "openai_compatible": _package("@ai-sdk/openai-compatible"),
        "postgres": _cmd(
            "psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "show server_version"
        ),
        "redis": redis.split(" ")[2].removeprefix("v=") if redis.startswith("Redis") else "?",
        "uvicorn": _cmd(
            str(ROOT / ".venv/bin/python"), "-c", "import uvicorn; print(uvicorn.__version__)"
        ),
        "commit": _cmd("git", "rev-parse", "--short", "HEAD"),
        "dirty_src": len(_cmd("git", "status", "--porcelain", "src").splitlines()),
    }
