"""HTML pages: the shells that the browser views run in, and the renderer every page
(public pages included) goes through, which sets the Content-Security-Policy."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, html

from .assets import static_url

TEMPLATES = Path(__file__).parent / "templates"
STYLESHEETS = ("css/base.css", "css/pages.css", "css/upload.css", "css/library.css")

# Scripts and styles only from the appliance's own files (no inline script, no eval),
# images from the appliance, its object URLs (previews of private images fetched with
# the access token) and the configured CDN; nothing may frame the pages.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:{cdn}; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)

# The views that run in a page shell, by path: (view, title).
SHELLS = {
    "/signin": ("auth", "Sign in"),
    "/signup": ("auth", "Sign up"),
    "/account": ("account", "Account"),
    "/upload": ("upload", "Upload"),
    "/my": ("library", "My images"),
    "/albums": ("albums", "Albums"),
    "/albums/<album_id:str>": ("albums", "Album"),
    "/staff": ("staff", "Moderation"),
    "/staff/audit": ("staff", "Audit log"),
    "/staff/users": ("staff", "Users"),
    "/staff/stats": ("staff", "Statistics"),
}

bp = Blueprint("web_pages")


@cache
def environment() -> Environment:
    """The Jinja environment: autoescaping on, so user text is always text."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static_url"] = static_url
    env.filters["day"] = day
    env.filters["count"] = lambda n: f"{n or 0:,}"
    env.filters["filesize"] = filesize
    return env


def day(iso: str | None) -> str:
    """``2025-11-13T10:30:00Z`` as ``13 November 2025`` (UTC)."""
    if not iso:
        return ""
    when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return f"{when.day} {when:%B %Y}"


def filesize(n: int | None) -> str:
    """1536000 as ``1.5 MB`` (decimal units, as ``ui.js`` ``formatBytes``)."""
    value, unit = float(n or 0), "bytes"
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            break
        value /= 1000
    if unit == "bytes":
        return f"{int(value)} bytes"
    return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"


def csp_header(settings: Any) -> str:
    """The Content-Security-Policy of every HTML answer for ``settings``."""
    cdn = settings.storage.cdn_base_url.rstrip("/")
    return CSP.format(cdn=f" {cdn}" if cdn else "")


def page_config(settings: Any) -> dict[str, Any]:
    """What the browser views need to know of the settings (rendered as JSON data)."""
    return {
        "siteName": settings.web.site_name,
        "publicFeed": settings.web.public_feed,
        "signupAllowed": settings.auth.allow_signup,
        "publicUrl": settings.public_url,
        "imageBaseUrl": settings.image_base_url,
        "imageWidths": sorted(settings.images.variant_sizes),
        "multipartThreshold": settings.web.multipart_threshold,
        "partSize": settings.web.part_size,
        # Public by design (supabase-js sends it from every page); the account page shows it.
        "supabaseAnonKey": settings.auth.supabase_anon_key,
        "plans": sorted(name for name in settings.plans if name != "anonymous"),
    }


def render(
    request: Request,
    template: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTTPResponse:
    """Render ``template`` as an HTML answer with the CSP and no caching by shared caches
    (pages show who is signed in only after the script ran, but private answers vary).

    ``noindex=True`` in the context (unlisted things, error pages) adds the robots
    ``<meta>`` (``base.html``) and ``X-Robots-Tag: noindex``."""
    settings = request.app.ctx.runtime.settings
    body = (
        environment()
        .get_template(template)
        .render(
            site_name=settings.web.site_name,
            stylesheets=STYLESHEETS,
            config_json=json.dumps(page_config(settings)).replace("<", "\\u003c"),
            **context,
        )
    )
    answer = html(body, status=status, headers=headers or {})
    answer.headers["Content-Security-Policy"] = csp_header(settings)
    answer.headers.setdefault("Cache-Control", "no-cache")
    answer.headers.setdefault("Referrer-Policy", "same-origin")
    if context.get("noindex"):
        answer.headers["X-Robots-Tag"] = "noindex"
    return answer


def _shell(view: str, title: str):
    async def shell(request: Request, **_: str) -> HTTPResponse:
        return render(request, "shell.html", view=view, title=title)

    shell.__pichr_page__ = True  # not a JSON API operation (tests/test_operations.py)
    shell.__doc__ = f"The page shell of the {view} view ({title})."
    return shell


for _index, (_path, (_view, _title)) in enumerate(SHELLS.items()):
    bp.add_route(_shell(_view, _title), _path, methods=["GET"], name=f"shell_{_index}")
