"""HTTP handlers: one blueprint per resource, thin over ``services``."""

from . import (
    account,
    admin,
    albums,
    auth,
    discovery,
    files,
    gotrue,
    health,
    integrations,
    keys,
    moderation,
    serving,
    uploads,
    web_session,
)

BLUEPRINTS = [
    health.bp,
    discovery.bp,
    auth.bp,
    gotrue.bp,
    web_session.bp,
    keys.bp,
    uploads.bp,
    files.bp,
    albums.bp,
    moderation.bp,
    account.bp,
    admin.bp,
    integrations.bp,
    serving.bp,
]
