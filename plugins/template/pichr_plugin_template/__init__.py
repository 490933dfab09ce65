"""pichr-plugin-template: a minimal plugin to copy.

It answers ``GET /-/pichr_plugin_template/hello`` and, when ``min_side`` is set,
refuses uploads smaller than that many pixels on either side. Settings live in
``[plugin.template]``. Rename the package, the distribution and the entry point.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt
from sanic.response import json

from pichr_appliance import hookimpl

__version__ = "0.1.0"
NAME = "template"  # the [plugin.<NAME>] section


class TemplateConfig(BaseModel):
    """``[plugin.template]``: read with ``runtime.plugin_config(NAME, TemplateConfig)``."""

    # forbid: a misspelled key stops start-up instead of being silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)

    greeting: str = Field("Hello", min_length=1)
    min_side: StrictInt = Field(0, ge=0)  # pixels; 0 for no limit


@hookimpl
def startup(runtime: Any) -> None:
    """Check the settings when the server starts, so that a typo stops it at once."""
    runtime.plugin_config(NAME, TemplateConfig)


@hookimpl
def register_routes(runtime: Any) -> list[tuple]:
    """``GET /-/pichr_plugin_template/hello?name=you``: a greeting (no sign-in needed)."""

    async def hello(request: Any) -> Any:
        greeting = runtime.plugin_config(NAME, TemplateConfig).greeting
        name = request.args.get("name", "world")[:100]
        return json({"message": f"{greeting}, {name}!"})

    return [("/hello", hello, ["GET"])]


@hookimpl
def validate_upload(runtime: Any, info: Any) -> str | None:
    """Refuse images smaller than ``min_side`` pixels on a side (None accepts)."""
    min_side = runtime.plugin_config(NAME, TemplateConfig).min_side
    if min_side and min(info.width, info.height) < min_side:
        return f"images must be at least {min_side} pixels on each side"
    return None
