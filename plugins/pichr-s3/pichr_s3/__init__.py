"""pichr-s3: store the appliance's objects in an S3-compatible bucket.

Enable with ``storage.backend = "s3"`` and the ``[storage]`` keys described in the
README (endpoint_url, region, bucket, prefix, credentials, path_style, public_base_url,
serve, direct_uploads).
"""

from __future__ import annotations

from typing import Any

from pichr_appliance import hookimpl

from .storage import S3Storage

__version__ = "0.1.0"
__all__ = ["S3Storage", "register_storage_backends"]


@hookimpl
def register_storage_backends(settings: Any) -> list[type]:
    """Offer the ``s3`` backend; ``storage.backend = "s3"`` selects it."""
    return [S3Storage]
