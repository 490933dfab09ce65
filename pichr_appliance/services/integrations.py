"""Uploader integrations: configuration files for desktop screenshot tools.

ShareX (Windows) imports a custom uploader from a ``.sxcu`` file (JSON). It sends the
screenshot in one request, ``POST /api/v1/upload?filename=...`` with the raw bytes as
the body, authenticated by an API key that may only upload, and takes the link from
the JSON answer (``url``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ..models import User
from . import api_keys

SHAREX_KEY_NAME = "ShareX"


def sharex_config(
    settings: Any, api_key: str, *, name: str | None = None, base: str | None = None
) -> dict[str, Any]:
    """A ShareX custom-uploader definition (the ``.sxcu`` JSON) for this appliance;
    ``base`` is its URL (default: ``settings.public_url``)."""
    base = (base or settings.public_url).rstrip("/")
    host = urlsplit(base).netloc or base
    return {
        "Version": "15.0.0",
        "Name": name or f"pichr ({host})",
        "DestinationType": "ImageUploader",
        "RequestMethod": "POST",
        "RequestURL": f"{base}/api/v1/upload",
        "Parameters": {"filename": "{filename}"},
        "Headers": {"Authorization": f"Bearer {api_key}"},
        "Body": "Binary",
        "URL": "{json:url}",
        "ThumbnailURL": "{json:url}?w=320",
        "ErrorMessage": "{json:error}",
    }


def sharex_filename(settings: Any) -> str:
    """A file name for the ``.sxcu`` download, from the appliance's host name."""
    host = urlsplit(settings.public_url).hostname or "pichr"
    return f"pichr-{host}.sxcu"


async def new_upload_key(user: User, name: str = SHAREX_KEY_NAME) -> str:
    """A fresh API key of ``user`` that can only upload; returns the secret."""
    _, secret = await api_keys.create_key(user, {"name": name, "permissions": ["upload"]})
    return secret
