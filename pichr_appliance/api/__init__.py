"""HTTP handlers: one blueprint per resource, thin over ``services``."""

from . import albums, auth, files, health, keys, moderation, serving, uploads

BLUEPRINTS = [
    health.bp,
    auth.bp,
    keys.bp,
    uploads.bp,
    files.bp,
    albums.bp,
    moderation.bp,
    serving.bp,
]
