"""The 404, 410 and 403 pages of the web interface (docs/web.md, "Error pages").

The public pages render them for what they cannot show; the appliance's error handler
(``pichr_appliance.errors``) asks :func:`page_for_error` for any other answer, which
gives a page only to a browser's navigation (``Accept`` prefers HTML to JSON) to a path
that is not the API's, the image server's, the assets' or a plugin's: every other
client keeps getting the JSON error.
"""

from __future__ import annotations

from typing import Any

from sanic import Request
from sanic.response import HTTPResponse

from .pages import render

JSON_ONLY = ("/api/", "/i/", "/static/", "/-/", "/health")

# status: (title, heading, text)
PAGES = {
    404: (
        "Not found",
        "Nothing here",
        "There is no page at this address, or it is not shared with you.",
    ),
    410: (
        "Gone",
        "This is gone",
        "It was removed or has expired, and it will not come back at this address.",
    ),
    403: (
        "Age-restricted",
        "Age-restricted content",
        "This is only shown to signed-in people who have confirmed their age. "
        "Sign in, and confirm your age in your account settings.",
    ),
}


def error_page(
    request: Request, status: int, *, lookup: str | None = None, **context: Any
) -> HTTPResponse:
    """The error page for ``status`` (404, 410 or 403). ``lookup`` (``"file"`` or
    ``"album"``) lets the page script look the thing up again with the signed-in
    user's token: owners and staff see their private things in the browser."""
    title, heading, text = PAGES.get(status, PAGES[404])
    return render(
        request,
        "error.html",
        status=status,
        error_status=status,
        title=title,
        heading=heading,
        text=text,
        lookup=lookup,
        noindex=True,
        **context,
    )


def prefers_html(accept: str) -> bool:
    """Whether an ``Accept`` header prefers ``text/html`` to JSON (a browser's
    navigation does; ``fetch``, curl and API clients send ``*/*`` or JSON)."""
    html, json, wildcard = 0.0, None, 0.0
    for item in accept.split(","):
        kind, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        kind = kind.lower()
        if kind == "text/html":
            html = max(html, q)
        elif kind == "application/json":
            json = max(json or 0.0, q)
        elif kind in ("*/*", "application/*"):
            wildcard = max(wildcard, q)
    return html > 0 and html > (json if json is not None else wildcard)


def page_for_error(request: Request, status: int) -> HTTPResponse | None:
    """The HTML page for an error answer of ``status``, or None to keep the JSON one."""
    if status not in (404, 410):
        return None
    path = request.path
    if path.startswith(JSON_ONLY):
        return None
    route = getattr(request, "route", None)
    if route is not None and not getattr(route.handler, "__pichr_page__", False):
        return None  # an API route (or a plugin's) answers JSON whatever is asked
    if not prefers_html(request.headers.get("accept", "")):
        return None
    page = error_page(request, status)
    page.headers["Vary"] = "Accept"  # the same address answers JSON to other clients
    return page
