"""Settings: environment and `.env`, Next.js URL forms, embedded defaults, production refusals."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from pydantic import AliasChoices

from chatbot_api.core.config import ConfigError, Settings, normalize_database_url

ROOT = Path(__file__).resolve().parent.parent
STRONG = "k" * 48


def env_names() -> list[str]:
    names = []
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        names.append(str(alias.choices[0]) if isinstance(alias, AliasChoices) else name.upper())
    return names


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting from the machine running the tests, no `.env` from the repository."""
    for name in [*env_names(), "DATABASE_URL", "KV_URL"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_env_example_documents_every_setting() -> None:
    documented = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )

    missing = [name for name in env_names() if name not in documented]

    assert missing == [], f".env.example lacks {missing}"


@pytest.mark.parametrize(
    "url",
    [
        "postgres://user:pw@db.example.com:5432/chat",
        "postgresql://user:pw@db.example.com:5432/chat",
        "postgresql+asyncpg://user:pw@db.example.com:5432/chat",
    ],
)
def test_postgres_url_nextjs_forms_become_asyncpg(url: str) -> None:
    settings = Settings(postgres_url=url)

    assert settings.database_url == "postgresql+asyncpg://user:pw@db.example.com:5432/chat"
    assert not settings.is_sqlite


def test_postgres_url_sslmode_becomes_asyncpg_ssl() -> None:
    url = "postgres://u:p@ep-x.neon.tech/neondb?sslmode=require&channel_binding=require"

    assert (
        normalize_database_url(url) == "postgresql+asyncpg://u:p@ep-x.neon.tech/neondb?ssl=require"
    )


def test_postgres_url_unsupported_scheme_names_the_accepted_ones() -> None:
    with pytest.raises(ConfigError, match="use postgres://, postgresql:// or sqlite://"):
        _ = Settings(postgres_url="mysql://root@localhost/chat").database_url


def test_database_url_and_kv_url_aliases_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/d")
    monkeypatch.setenv("KV_URL", "redis://cache:6379/1")

    settings = Settings()

    assert settings.database_url == "postgresql+asyncpg://u@h/d"
    assert settings.redis_url == "redis://cache:6379/1"


def test_defaults_run_on_sqlite_in_data_dir(tmp_path: Path) -> None:
    settings = Settings()

    assert settings.environment == "development"
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'chatbot.db'}"
    assert settings.resolved_storage_backend == "local"
    assert settings.redis_url is None


def test_dev_secret_is_generated_once_and_kept_in_data_dir(tmp_path: Path) -> None:
    first = Settings().jwt_secret
    second = Settings().jwt_secret

    path = tmp_path / "data" / "dev-secret.key"
    assert first == second == path.read_text().strip()
    assert len(first.encode()) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        (None, "is not set"),
        ("change-me-to-a-long-random-value", "is a default placeholder"),
        ("secret", "is a default placeholder"),
        ("0123456789abcdef0123456789abcde", "is shorter than 32 bytes"),
    ],
)
def test_production_refuses_weak_jwt_secret(
    monkeypatch: pytest.MonkeyPatch, secret: str | None, problem: str
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    if secret is not None:
        monkeypatch.setenv("JWT_SECRET_KEY", secret)

    with pytest.raises(ConfigError) as caught:
        Settings()

    assert str(caught.value).startswith(f"JWT_SECRET_KEY {problem}. In production set")
    assert "at least 32 bytes" in str(caught.value)


def test_production_refuses_short_auth_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("JWT_SECRET_KEY", STRONG)
    monkeypatch.setenv("AUTH_SECRET", "short")

    with pytest.raises(ConfigError, match="AUTH_SECRET is shorter than 32 bytes"):
        Settings()


def test_production_starts_with_strong_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "PROD")
    monkeypatch.setenv("JWT_SECRET_KEY", STRONG)

    settings = Settings()

    assert settings.environment == "production"
    assert settings.jwt_secret == STRONG


def test_dotenv_file_in_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "POSTGRES_URL=postgresql://app@db/chat\n"
        "JWT_ACCESS_TOKEN_EXPIRE_MINUTES=15\n"
        "CORS_ORIGINS=http://localhost:3000, https://chat.example.com\n"
    )

    settings = Settings()

    assert settings.database_url == "postgresql+asyncpg://app@db/chat"
    assert settings.jwt_access_token_expire_minutes == 15
    assert settings.cors_origins == ["http://localhost:3000", "https://chat.example.com"]


def test_environment_variable_overrides_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("JWT_ALGORITHM=HS512\n")
    monkeypatch.setenv("JWT_ALGORITHM", "HS384")

    assert Settings().jwt_algorithm == "HS384"


def test_cors_origins_accepts_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", '["https://a.example", "https://b.example"]')

    assert Settings().cors_origins == ["https://a.example", "https://b.example"]


def test_storage_backend_follows_configured_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3_BUCKET", "uploads")
    assert Settings().resolved_storage_backend == "s3"

    monkeypatch.setenv("BLOB_READ_WRITE_TOKEN", "vercel_blob_rw_x")
    assert Settings().resolved_storage_backend == "vercel_blob"
