"""HTTP handlers: one blueprint per resource, thin over ``services``."""

from . import auth, health, keys

BLUEPRINTS = [health.bp, auth.bp, keys.bp]
