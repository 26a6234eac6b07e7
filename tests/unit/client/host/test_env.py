"""get-env: the manifest allowlist, a deny list that wins, and the operator's environment."""

from __future__ import annotations

import pytest

from client.host.sandbox.decisions import PolicyDenied
from client.host.sandbox.env import EnvPolicy, is_denied_env

ALLOWED = ["WEATHER_UNITS", "OPENAI_API_KEY", "PATH", "GITHUB_TOKEN", "MISSING"]
ENV = {
    "WEATHER_UNITS": "metric",
    "OPENAI_API_KEY": "sk-secret",
    "PATH": "/usr/bin",
    "GITHUB_TOKEN": "ghp_x",
    "UNDECLARED": "x",
}


@pytest.mark.parametrize(
    "name",
    [
        "PATH",
        "HOME",
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "MY_API_KEY",
        "GITHUB_TOKEN",
        "DB_SECRET",
        "DB_PASSWORD",
        "AWS_ACCESS_KEY_ID",
        "LD_PRELOAD",
        "openai_api_key",
        "CLAWFT_REGISTRY_TOKEN",
        # connection strings and the conventional secret names of databases and services
        "PGPASSWORD",
        "MYSQL_PWD",
        "DATABASE_URL",
        "READ_REPLICA_DATABASE_URL",
        "SENTRY_DSN",
        "DSN",
        "REDIS_URL",
        "CELERY_BROKER_URL",
        "MONGODB_URI",
        "AZURE_STORAGE_CONNECTION_STRING",
        "SMTP_PASSWD",
        "JWT_PRIVATE_KEY_PATH",
        "SIGNING_PRIVATE_KEY",
        "CLIENT_SECRET_FILE",
        "STRIPE_API_KEY_TEST",
        "SESSION_TOKEN_V2",
        "HTTPS_PROXY",
        "all_proxy",
        "KUBECONFIG",
    ],
)
def test_deny_list(name: str) -> None:
    assert is_denied_env(name)


def test_allowlist_and_deny_list() -> None:
    policy = EnvPolicy(ALLOWED, ENV)
    assert policy.get("WEATHER_UNITS") == "metric"
    assert policy.get("MISSING") is None
    for denied in ("OPENAI_API_KEY", "PATH", "GITHUB_TOKEN"):
        with pytest.raises(PolicyDenied, match="deny list"):
            policy.get(denied)
    with pytest.raises(PolicyDenied, match="not declared"):
        policy.get("UNDECLARED")


def test_values_come_only_from_the_given_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEATHER_UNITS", "from-host-process")
    assert EnvPolicy(["WEATHER_UNITS"], {}).get("WEATHER_UNITS") is None


@pytest.mark.parametrize(
    "name", ["WEATHER_UNITS", "TZ", "LOG_LEVEL", "API_URL", "KEYBOARD_LAYOUT", "TOKENIZER_MODEL"]
)
def test_ordinary_settings_are_not_denied(name: str) -> None:
    assert not is_denied_env(name)
