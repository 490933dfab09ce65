"""The plugin's settings: ``[plugin.auth_proxy]`` in the appliance configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pichr_appliance.config import ConfigError


@dataclass(frozen=True)
class AuthProxyConfig:
    """Which headers carry the identity, and how groups become roles."""

    enabled: bool = False
    user_header: str = "Remote-User"
    email_header: str = "Remote-Email"
    groups_header: str = "Remote-Groups"
    groups_admin: tuple[str, ...] = ()
    groups_moderator: tuple[str, ...] = ()
    create_users: bool = True
    # Address for accounts the proxy names without an email (".invalid" never routes).
    email_domain: str = "users.invalid"

    @property
    def manages_roles(self) -> bool:
        """True when a group mapping is configured: the proxy's groups then decide roles."""
        return bool(self.groups_admin or self.groups_moderator)

    def role_for(self, groups: set[str]) -> str:
        """The role that ``groups`` grant (admin wins over moderator)."""
        if groups & set(self.groups_admin):
            return "admin"
        if groups & set(self.groups_moderator):
            return "moderator"
        return "user"


def _names(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"plugin.auth_proxy.{key}: must be a list of group names")
    return tuple(v.strip() for v in value)


def auth_proxy_config(settings: Any) -> AuthProxyConfig:
    """The validated ``[plugin.auth_proxy]`` section; ConfigError names the bad key."""
    section = dict(settings.plugin_config("auth_proxy"))
    defaults = AuthProxyConfig()
    values: dict[str, Any] = {}
    for key in ("enabled", "create_users"):
        value = section.pop(key, getattr(defaults, key))
        if not isinstance(value, bool):
            raise ConfigError(f"plugin.auth_proxy.{key}: must be true or false")
        values[key] = value
    for key in ("user_header", "email_header", "groups_header", "email_domain"):
        value = section.pop(key, getattr(defaults, key))
        if not isinstance(value, str) or not value.strip() or " " in value.strip():
            raise ConfigError(f"plugin.auth_proxy.{key}: must be a non-empty name")
        values[key] = value.strip()
    for key in ("groups_admin", "groups_moderator"):
        values[key] = _names(section.pop(key, []), key)
    if section:
        raise ConfigError(f"plugin.auth_proxy: unknown setting(s) {', '.join(sorted(section))}")
    return AuthProxyConfig(**values)
