"""The plugin's settings: ``[plugin.webhooks]`` in the appliance configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pichr_appliance.config import ConfigError

EVENTS = (
    "file_uploaded",
    "file_deleted",
    "file_moderated",
    "report_created",
    "user_created",
    "album_created",
)


@dataclass(frozen=True)
class Endpoint:
    """Where to POST which events, signed with ``secret``."""

    name: str
    url: str
    secret: str
    events: frozenset[str]

    def wants(self, event: str) -> bool:
        """Whether ``event`` is delivered to this endpoint."""
        return event in self.events


@dataclass(frozen=True)
class WebhooksConfig:
    """Endpoints and delivery policy."""

    endpoints: tuple[Endpoint, ...] = ()
    max_attempts: int = 8
    backoff_base: float = 10.0  # seconds before the second attempt; doubles each time
    backoff_cap: float = 3600.0  # no wait between attempts is longer than this
    jitter: float = 0.1  # up to this share of each wait is added at random
    timeout: float = 10.0  # seconds for one POST
    poll_interval: float = 5.0  # how often a worker looks for due rows with nothing to wake it
    batch: int = 20  # rows claimed (and POSTed concurrently) at a time
    keep_days: int = 7  # delivered and dead rows older than this are deleted

    @property
    def lease_ms(self) -> int:
        """How long a claimed row stays another worker's: longer than any one POST."""
        return int((self.timeout * 2 + 30) * 1000)

    def endpoint(self, name: str) -> Endpoint | None:
        """The configured endpoint called ``name``, or None when it is gone."""
        return next((e for e in self.endpoints if e.name == name), None)

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after ``attempts`` failed attempts (before jitter)."""
        return min(self.backoff_cap, self.backoff_base * 2 ** max(0, attempts - 1))


def _number(section: dict, key: str, default: float, minimum: float, kind: type) -> Any:
    value = section.pop(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"plugin.webhooks.{key}: must be a number")
    if kind is int and value != int(value):
        raise ConfigError(f"plugin.webhooks.{key}: must be a whole number")
    if value < minimum:
        raise ConfigError(f"plugin.webhooks.{key}: must be at least {minimum}")
    return kind(value)


def _endpoint(raw: Any, index: int, seen: set[str]) -> Endpoint:
    where = f"plugin.webhooks.endpoints[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table {{url = ..., secret = ..., events = [...]}}")
    raw = dict(raw)
    url = raw.pop("url", "")
    secret = raw.pop("secret", "")
    events = raw.pop("events", ["*"])
    name = raw.pop("name", url)
    if raw:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(sorted(raw))}")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{where}.url: must be an http:// or https:// URL")
    if not isinstance(secret, str) or len(secret) < 16:
        raise ConfigError(
            f'{where}.secret: at least 16 characters (use {{ "$env" = "NAME" }} to keep it '
            "out of the file)"
        )
    if isinstance(events, str):
        events = [events]
    if not isinstance(events, list) or not events:
        raise ConfigError(f'{where}.events: a list of event names, or ["*"] for all')
    if "*" in events:
        chosen = frozenset(EVENTS)
    else:
        unknown = [e for e in events if e not in EVENTS]
        if unknown:
            raise ConfigError(
                f"{where}.events: unknown event(s) {', '.join(map(str, unknown))}; "
                f"known: {', '.join(EVENTS)}"
            )
        chosen = frozenset(events)
    if not isinstance(name, str) or not name or len(name) > 200:
        raise ConfigError(f"{where}.name: 1-200 characters")
    if name in seen:
        raise ConfigError(f"{where}: two endpoints are called {name!r}; give one a name")
    seen.add(name)
    return Endpoint(name=name, url=url, secret=secret, events=chosen)


def webhooks_config(settings: Any) -> WebhooksConfig | None:
    """The validated ``[plugin.webhooks]`` section, or None without endpoints.

    Secrets written as ``{ "$env" = "NAME" }`` or ``{ "$file" = "/path" }`` are resolved
    by the core when the settings load.
    """
    section = dict(settings.plugin_config("webhooks"))
    raw_endpoints = section.pop("endpoints", [])
    if not isinstance(raw_endpoints, list):
        raise ConfigError("plugin.webhooks.endpoints: must be a list of tables")
    seen: set[str] = set()
    endpoints = tuple(_endpoint(raw, i, seen) for i, raw in enumerate(raw_endpoints))
    defaults = WebhooksConfig()
    config = WebhooksConfig(
        endpoints=endpoints,
        max_attempts=_number(section, "max_attempts", defaults.max_attempts, 1, int),
        backoff_base=_number(section, "backoff_base", defaults.backoff_base, 0.01, float),
        backoff_cap=_number(section, "backoff_cap", defaults.backoff_cap, 0.01, float),
        jitter=_number(section, "jitter", defaults.jitter, 0, float),
        timeout=_number(section, "timeout", defaults.timeout, 0.1, float),
        poll_interval=_number(section, "poll_interval", defaults.poll_interval, 0.01, float),
        batch=_number(section, "batch", defaults.batch, 1, int),
        keep_days=_number(section, "keep_days", defaults.keep_days, 0, int),
    )
    if section:
        raise ConfigError(f"plugin.webhooks: unknown setting(s) {', '.join(sorted(section))}")
    return config if endpoints else None
