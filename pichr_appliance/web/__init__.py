"""The browser interface: server-rendered public pages, the page shells of the account,
upload, library and staff views, and their static assets (docs/web.md).

The pages are clients of the same JSON API and services: the public pages ask
``services.access`` what a viewer may see, the views call ``/api/v1`` from the browser.
"""

from __future__ import annotations

from typing import Any


def blueprints(settings: Any) -> list[Any]:
    """The web blueprints for ``settings`` (none when ``web.enabled`` is off)."""
    if not settings.web.enabled:
        return []
    from . import assets, pages, public

    return [assets.bp, pages.bp, public.bp]
