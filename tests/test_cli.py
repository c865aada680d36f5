"""The real `chatbot-api` command, run as a subprocess the way operators run it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from chatbot_api.db.migrate import head_revision
from tests.test_config import env_names

CLI = str(Path(sys.executable).with_name("chatbot-api"))


def cli_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {*env_names(), "DATABASE_URL", "KV_URL"}}
    env.update({"DATA_DIR": str(tmp_path / "data"), "LOG_LEVEL": "WARNING", **settings})
    return env


def run_cli(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args],
        cwd=tmp_path,
        env=cli_env(tmp_path, **settings),
        capture_output=True,
        text=True,
        timeout=60,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_db_upgrade_on_empty_sqlite_then_current_shows_head(tmp_path: Path) -> None:
    upgraded = run_cli(tmp_path, "db", "upgrade")
    current = run_cli(tmp_path, "db", "current")

    assert upgraded.returncode == 0, upgraded.stderr
    assert "Found an empty database (no tables yet)" in upgraded.stdout
    assert "Creating the schema" in upgraded.stdout
    assert (tmp_path / "data" / "chatbot.db").exists()
    assert current.returncode == 0, current.stderr
    assert f"Current revision: {head_revision()} (head)" in current.stdout


def test_db_current_on_fresh_install_suggests_upgrade(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "db", "current")

    assert result.returncode == 0, result.stderr
    assert "run `chatbot-api db upgrade`" in result.stdout
    assert not (tmp_path / "data" / "chatbot.db").exists()


def test_db_adopt_on_empty_database_exits_nonzero_with_hint(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "db", "adopt")

    assert result.returncode == 1
    assert "Nothing to adopt: the database is empty" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_upgrade_unreachable_database_exits_nonzero_without_traceback(tmp_path: Path) -> None:
    result = run_cli(
        tmp_path, "db", "upgrade", POSTGRES_URL="postgres://app:s3cret@127.0.0.1:1/chat"
    )

    assert result.returncode == 1
    assert result.stderr.startswith("Error: Cannot use the database postgresql+asyncpg://app:***@")
    assert "s3cret" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_serve_production_short_secret_exits_2_with_message(tmp_path: Path) -> None:
    result = run_cli(
        tmp_path, "serve", ENVIRONMENT="production", JWT_SECRET_KEY="too-short-for-production"
    )

    assert result.returncode == 2
    assert result.stderr.startswith("Error: JWT_SECRET_KEY is shorter than 32 bytes.")
    assert "set JWT_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_upgrade_invalid_setting_exits_2_naming_the_variable(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "db", "upgrade", JWT_ACCESS_TOKEN_EXPIRE_MINUTES="soon")

    assert result.returncode == 2
    assert "invalid JWT_ACCESS_TOKEN_EXPIRE_MINUTES" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_migrates_then_answers_health_and_docs(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = _wait_ready(f"http://127.0.0.1:{port}", proc)
        docs = httpx.get(f"http://127.0.0.1:{port}/docs", timeout=5)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)

    assert ready.json()["checks"]["database"] == "ok"
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text.lower()
    assert "Creating the schema" in out
    assert f"API docs at http://127.0.0.1:{port}/docs" in out
    assert proc.returncode == 0, err


def _wait_ready(base: str, proc: subprocess.Popen[str]) -> httpx.Response:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"serve exited early ({proc.returncode}): {proc.communicate()}")
        try:
            response = httpx.get(f"{base}/health/ready", timeout=2)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail("serve did not become ready within 30 s")


def test_models_check_names_the_mistake_in_one_line_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text("models:\n  - id: house\n    provider: openai\n    tols: false\n")
    result = run_cli(tmp_path, "models", "check", str(path))
    assert result.returncode == 2
    assert (
        result.stderr == f"Error: CHAT_MODELS_FILE {path}: models[0] (house).tols: unknown field\n"
    )


def test_models_check_accepts_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text("models:\n  - id: house\n    provider: openai\n    model: gpt-4o\n")
    result = run_cli(tmp_path, "models", "check", str(path), OPENAI_API_KEY="sk-test")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{path}: OK (1 models, 0 providers)\n"


def test_models_list_prints_who_answers_each_id(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "models", "list", OPENAI_API_KEY="sk-test")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "ID",
        "PROVIDER",
        "UPSTREAM",
        "MODEL",
        "FALLBACKS",
        "USERS",
        "LISTED",
    ]
    rows = {line.split()[0]: line.split()[1:3] for line in lines[1:]}
    assert rows["openai/gpt-5.2"] == ["openai", "gpt-5.2"]
    assert rows["google/gemini-2.5-flash-lite"] == ["openai", "gpt-4.1-mini"]
    assert all(provider == "openai" for provider, _ in rows.values())


def test_serve_with_a_bad_models_file_exits_2_before_migrating(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text('{"models": [{"id": "a",}]}')
    result = run_cli(tmp_path, "serve", CHAT_MODELS_FILE=str(path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "invalid JSON" in result.stderr
    assert str(path) in result.stderr
    assert "migrat" not in result.stdout.lower()
    assert not (tmp_path / "data").exists()  # the SQLite database was never created
