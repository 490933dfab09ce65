"""pichr-auth-proxy: sign in through a trusted reverse proxy (Authelia, authentik, ...).

Inert until ``[plugin.auth_proxy] enabled = true``. The identity headers are read only
from requests whose socket peer is one of ``server.trusted_proxies``.
"""

from __future__ import annotations

import logging
from typing import Any

from pichr_appliance import hookimpl

from .config import AuthProxyConfig, auth_proxy_config
from .proxy import AuthProxy, peer_is_trusted

__version__ = "0.1.0"
__all__ = ["AuthProxy", "AuthProxyConfig", "__version__", "auth_proxy_config", "peer_is_trusted"]
log = logging.getLogger("pichr_auth_proxy")
ACTIVE_NAME = "pichr_auth_proxy.active"


@hookimpl
def startup(runtime: Any) -> None:
    """Check the settings and, when enabled, register the ``actor_from_request`` hook.

    Registered here rather than declared on the module so that an installed but unused
    plugin costs nothing: no extra implementation is asked on every request (``/i/``
    included). Not ``trylast``, so it is asked before the built-in Bearer check.
    """
    config = auth_proxy_config(runtime.settings)
    pm = runtime.pm
    if not config.enabled or pm.has_plugin(ACTIVE_NAME):
        return
    if not runtime.settings.server.trusted_proxies:
        log.warning(
            "plugin.auth_proxy is enabled but server.trusted_proxies is empty: "
            "%s headers will be ignored; list your proxy's address there",
            config.user_header,
        )
    if runtime.settings.auth.allow_signup:
        log.warning(
            "plugin.auth_proxy is enabled while auth.allow_signup is on: anyone can make "
            "a local account; the proxy never signs in as one it did not create or that "
            "was not linked (pichr-appliance auth-proxy link), but consider "
            "auth.allow_signup = false"
        )
    pm.register(AuthProxy(config), name=ACTIVE_NAME)


@hookimpl
def register_commands(cli: Any) -> None:
    """``pichr-appliance auth-proxy link|unlink``."""
    from .commands import auth_proxy_group

    cli.add_command(auth_proxy_group)
