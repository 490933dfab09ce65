"""Who the trusted proxy says is calling: find or create the account, sync its role."""

from __future__ import annotations

import logging
from typing import Any

from pichr_appliance import hookimpl

# The same address check as the core's client address, so that one setting
# (server.trusted_proxies) means one thing everywhere.
from pichr_appliance.api.middleware import is_trusted_proxy
from pichr_appliance.errors import ApiError
from pichr_appliance.models import User
from pichr_appliance.services import accounts, audit

from .config import AuthProxyConfig
from .linking import adoptable, external_id

log = logging.getLogger("pichr_auth_proxy")
OPERATOR = audit.Operator(label="auth-proxy", role="admin")


def refused(message: str, code: str = "invalid_remote_user") -> ApiError:
    """A 401 for identity headers that a trusted proxy sent but that cannot be used."""
    return ApiError(401, code, message)


def peer_is_trusted(request: Any, trusted_proxies: list[str]) -> bool:
    """Whether the socket peer (never a forwarded address) is in ``trusted_proxies``."""
    peer = request.conn_info.client_ip if request.conn_info else ""
    return is_trusted_proxy(peer, trusted_proxies)


def single_header(request: Any, name: str) -> str | None:
    """The one value of header ``name``, None when absent; 401 when sent more than once
    (a client's copy that the proxy appended to instead of replacing)."""
    values = request.headers.getall(name, [])
    if not values:
        return None
    if len(values) > 1:
        raise refused(f"{name} was sent more than once")
    return values[0].strip()


def cfg_name(config: AuthProxyConfig, name: str) -> str:
    """``Remote-User: name`` for the log."""
    return f"{config.user_header}: {name}"


class AuthProxy:
    """The ``actor_from_request`` implementation, registered when the plugin is enabled."""

    def __init__(self, config: AuthProxyConfig) -> None:
        self.config = config

    @hookimpl
    async def actor_from_request(self, runtime: Any, request: Any) -> User | None:
        """The account named by the user header when the peer is a trusted proxy."""
        settings = runtime.settings
        if not peer_is_trusted(request, settings.server.trusted_proxies):
            return None  # anyone could have written these headers
        cfg = self.config
        name = single_header(request, cfg.user_header)
        if not name:
            return None  # the proxy let this request through unauthenticated
        if not accounts.USERNAME_RE.fullmatch(name):
            raise refused(
                f"{cfg.user_header} {name!r} is not a valid username "
                "(3-32 letters, digits and underscores)"
            )
        email = single_header(request, cfg.email_header) or None
        groups_raw = single_header(request, cfg.groups_header) or ""
        groups = {g.strip() for g in groups_raw.split(",") if g.strip()}

        user = await self._account(runtime, name, email, groups)
        if user.disabled:
            return user  # the core refuses it (403 account_disabled)
        if cfg.manages_roles:
            role = cfg.role_for(groups)
            if user.role != role:
                old = user.role
                await accounts.set_role(user, role)
                await audit.record(
                    OPERATOR, "set_role", "user", user.id, data={"from": old, "to": role}
                )
        return user

    async def _account(self, runtime: Any, name: str, email: str | None, groups: set[str]) -> User:
        """The account linked to ``name``: found by its external id, or created; an
        unlinked account of the same username is linked only when it is one that only
        the proxy could have made (no password, same email), else 409."""
        ident = external_id(name)
        user = await User.get_or_none(external_id=ident)
        if user is not None:
            return user
        user = await User.get_or_none(username_key=name.lower())
        if user is None:
            return await self._create(runtime, name, email, groups)
        expected = (email or f"{name.lower()}@{self.config.email_domain}").strip().lower()
        if not adoptable(user, expected):
            log.warning(
                "auth-proxy: refused %s: the account %s (%s) is not linked to the proxy "
                "(it has a local password, another email or another link); if it is "
                "theirs, run: pichr-appliance auth-proxy link %s",
                cfg_name(self.config, name), user.username, user.id, user.username,
            )  # fmt: skip
            raise ApiError(
                409,
                "account_not_linked",
                f"an account named {name!r} exists but is not linked to this sign-in; "
                "an administrator can link it",
            )
        user.external_id = ident
        await user.save(update_fields=["external_id", "updated_at"])
        await audit.record(OPERATOR, "link_user", "user", user.id, data={"externalId": ident})
        log.info("auth-proxy: linked existing account %s (%s)", user.username, user.id)
        return user

    async def _create(self, runtime: Any, name: str, email: str | None, groups: set[str]) -> User:
        cfg = self.config
        if not cfg.create_users:
            raise refused(f"no account named {name!r}", "unknown_user")
        role = cfg.role_for(groups) if cfg.manages_roles else "user"
        try:
            # No password: the account signs in only through the proxy (the core treats
            # a missing hash as one that no password matches) until an admin sets one.
            user = await accounts.register(
                runtime,
                email=email or f"{name.lower()}@{cfg.email_domain}",
                username=name,
                password=None,
                role=role,
                external_id=external_id(name),
            )
        except ApiError as exc:
            if exc.status != 409:
                raise refused(f"cannot create an account for {name!r}: {exc.message}") from None
            # Another request for the same new user won the race: use its account.
            user = await User.get_or_none(external_id=external_id(name))
            if user is None:  # the email or the name belongs to someone else
                raise ApiError(409, "account_conflict", exc.message) from None
            return user
        log.info("auth-proxy: created account %s (%s, role %s)", user.username, user.id, role)
        await audit.record(OPERATOR, "create_user", "user", user.id, data={"role": role})
        return user
