"""Built-in behaviour, written as plugins of our own hooks (as a third party would).

One module per built-in, each registered by :mod:`pichr_appliance.plugins` under its
module name before any installed plugin (see ``DEFAULT_PLUGINS`` there):

- :mod:`.storage`: the local-disk storage backend;
- :mod:`.rate_limits`: the SQLite-file and in-memory rate-limit stores;
- :mod:`.sqlite`: ``sqlite://`` database URLs;
- :mod:`.auth`: session-token and API-key authentication (``Authorization: Bearer``);
- :mod:`.roles`: the role rules behind ``require_role``.
"""

MODULES = ("storage", "rate_limits", "sqlite", "auth", "roles")
