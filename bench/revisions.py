"""The source trees whose server a run measures: the current tree, and for `--baseline <ref>`
another revision checked out with `git worktree add` into the run's results, with its own
venv synced from that revision's uv.lock by the pinned uv in .tools/.

Each revision gets its own freshly migrated database and Redis key prefix (see targets.py),
so the two schemas never meet; everything is removed again by the run's exit stack, also on
failure or Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
from contextlib import AsyncExitStack
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


async def baseline(ref: str, results: Path, stack: AsyncExitStack) -> Revision:
    """Checks `ref` out into `results` and syncs its venv; the stack removes the worktree."""
    try:
        commit = _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except RuntimeError:
        raise SystemExit(f"--baseline {ref}: not a revision of this repository") from None
    dest = results / f"baseline-{commit[:10]}"
    stack.callback(_remove_worktree, dest)  # registered first: Ctrl-C mid-checkout cleans too
    print(f"==> baseline {ref} ({commit[:10]}): git worktree add {dest}", flush=True)
    await command(["git", "worktree", "add", "--detach", "--quiet", str(dest), commit], ROOT)
    print(f"==> baseline {ref}: uv sync --frozen (its own uv.lock, its own .venv)", flush=True)
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
    }
    env |= {
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_PYTHON": getattr(sys, "_base_executable", sys.executable),
    }
    await command([str(UV), "sync", "--frozen", "--no-dev", "--quiet"], dest, env)
    if not (dest / ".venv" / "bin" / "chatbot-api").exists():
        raise RuntimeError(f"baseline {ref}: its tree has no `chatbot-api` command")
    return Revision(f"@{ref}", ref, commit, dest)


def _remove_worktree(path: Path) -> None:
    with contextlib.suppress(RuntimeError):
        _git("worktree", "remove", "--force", str(path))
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)
    with contextlib.suppress(RuntimeError):
        _git("worktree", "prune")
