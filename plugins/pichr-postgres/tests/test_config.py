"""database.url and database.options become the Tortoise connection (no server needed)."""

import pytest
from pichr_postgres.config import connection_config

from pichr_appliance.config import ConfigError
from pichr_appliance.db import tortoise_config
from pichr_appliance.plugins import get_plugin_manager
from pichr_appliance.testing import make_settings


def test_postgres_urls_are_handled_through_the_hook(tmp_path):
    for scheme in ("postgres", "postgresql"):
        url = f"{scheme}://app:s%40cret@db.internal:6543/pichr?sslmode=require"
        settings = make_settings(
            tmp_path / scheme,
            {"database": {"url": url, "options": {"min_size": 2, "max_size": 7}}},
        )
        conn = tortoise_config(settings, get_plugin_manager(settings))["connections"]["default"]
        assert conn["engine"] == "pichr_postgres.engine"
        assert conn["credentials"] == {
            "host": "db.internal",
            "port": 6543,
            "user": "app",
            "password": "s@cret",
            "database": "pichr",
            "ssl": "require",
            "minsize": 2,
            "maxsize": 7,
            "timeout": 10,
        }


def test_sqlite_is_left_alone(tmp_path):
    settings = make_settings(
        tmp_path / "d", {"database": {"url": f"sqlite://{tmp_path / 'd' / 'x.sqlite3'}"}}
    )
    conn = tortoise_config(settings, get_plugin_manager(settings))["connections"]["default"]
    assert conn["engine"] == "tortoise.backends.sqlite"


def test_passthrough_options():
    creds = connection_config(
        "postgres://u@h/db", {"command_timeout": 30, "statement_cache_size": 0}
    )["credentials"]
    assert creds["command_timeout"] == 30 and creds["statement_cache_size"] == 0
    assert creds["password"] is None and creds["port"] == 5432


@pytest.mark.parametrize(
    ("url", "options", "needle"),
    [
        ("postgres://u@h/", {}, "pichr-postgres: database.url: name the database"),
        ("postgres://u@h:port/db", {}, "pichr-postgres: database.url: the port"),
        ("postgres://u@h/db", {"max_size": 0}, "database.options.max_size"),
        ("postgres://u@h/db", {"min_size": 5, "max_size": 2}, "database.options.min_size"),
        ("postgres://u@h/db", {"pool": 3}, "database.options.pool: unknown option"),
        ("postgres://u@h/db", {"connect_timeout": "soon"}, "database.options.connect_timeout"),
    ],
)
def test_bad_settings_name_the_plugin_and_key(url, options, needle):
    with pytest.raises(ConfigError, match=needle):
        connection_config(url, options)
