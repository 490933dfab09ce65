"""pichr-appliance: a self-hosted image host that speaks the Pichr HTTP API."""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("pichr_appliance")

__all__ = ["__version__", "hookimpl"]
