"""pichr-plugin-template: a minimal plugin to copy.

It answers ``GET /-/pichr_plugin_template/hello`` and, when ``min_side`` is set,
refuses uploads smaller than that many pixels on either side. Settings live in
``[plugin.template]``. Rename the package, the distribution and the entry point.
"""

from __future__ import annotations

from typing import Any

from sanic.response import json

from pichr_appliance import hookimpl
from pichr_appliance.config import ConfigError

__version__ = "0.1.0"


def template_config(settings: Any) -> dict[str, Any]:
    """The ``[plugin.template]`` section with defaults; ConfigError names a bad key."""
    section = dict(settings.plugin.get("template") or {})
    greeting = section.pop("greeting", "Hello")
    min_side = section.pop("min_side", 0)
    if section:
        raise ConfigError(f"plugin.template: unknown setting(s) {', '.join(sorted(section))}")
    if not isinstance(greeting, str) or not greeting:
        raise ConfigError("plugin.template.greeting: must be a non-empty string")
    if not isinstance(min_side, int) or isinstance(min_side, bool) or min_side < 0:
        raise ConfigError("plugin.template.min_side: must be a whole number, 0 for no limit")
    return {"greeting": greeting, "min_side": min_side}


@hookimpl
def startup(runtime: Any) -> None:
    """Check the settings when the server starts, so that a typo stops it at once."""
    template_config(runtime.settings)


@hookimpl
def register_routes(runtime: Any) -> list[tuple]:
    """``GET /-/pichr_plugin_template/hello?name=you``: a greeting (no sign-in needed)."""

    async def hello(request: Any) -> Any:
        greeting = template_config(runtime.settings)["greeting"]
        name = request.args.get("name", "world")[:100]
        return json({"message": f"{greeting}, {name}!"})

    return [("/hello", hello, ["GET"])]


@hookimpl
def validate_upload(runtime: Any, info: Any) -> str | None:
    """Refuse images smaller than ``min_side`` pixels on a side (None accepts)."""
    min_side = template_config(runtime.settings)["min_side"]
    if min_side and min(info.width, info.height) < min_side:
        return f"images must be at least {min_side} pixels on each side"
    return None
