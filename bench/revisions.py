"""The source trees whose server a run measures (the current tree), and running their
commands so that an interrupted run kills them.

Each revision gets its own freshly migrated database and Redis key prefix (see targets.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UV = ROOT / ".tools" / "bin" / "uv"


@dataclass
class Revision:
    """One source tree: `suffix` ("" or "@<ref>") ends its servers' names."""

    suffix: str
    ref: str
    commit: str
    root: Path
    db_name: str = ""
    db_url: str = ""
    redis_prefix: str = ""
    env: dict[str, str] = field(default_factory=dict)

    @property
    def bin(self) -> Path:
        return self.root / ".venv" / "bin"

    @property
    def is_baseline(self) -> bool:
        return bool(self.suffix)

    @property
    def slug(self) -> str:
        """The suffix as a file-name part."""
        return re.sub(r"[^A-Za-z0-9_.-]", "_", self.suffix.lstrip("@"))


def _git(*args: str, cwd: Path = ROOT) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout.strip()


def current() -> Revision:
    return Revision("", "HEAD", _git("rev-parse", "HEAD"), ROOT)


async def command(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Runs a command to its end (killed if the run is interrupted meanwhile); its output,
    or RuntimeError with the output's tail."""
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        out, _ = await proc.communicate()
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} … failed ({proc.returncode}): {text[-2000:]}")
    return text
