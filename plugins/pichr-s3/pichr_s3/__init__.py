"""pichr-s3: store the appliance's objects in an S3-compatible bucket.

Enable with ``storage.backend = "s3"`` and the ``[storage]`` keys described in the
README (endpoint_url, region, bucket, prefix, credentials, path_style, public_base_url,
serve, direct_uploads).
"""

from __future__ import annotations

from typing import Any

from pichr_appliance import hookimpl

__version__ = "0.1.0"
__all__ = ["S3Storage", "register_storage_backends"]


def __getattr__(name: str) -> Any:
    """``pichr_s3.S3Storage``, imported on first use (see :func:`register_storage_backends`)."""
    if name == "S3Storage":
        from .storage import S3Storage

        return S3Storage
    raise AttributeError(name)


@hookimpl
def register_storage_backends(settings: Any) -> list[type]:
    """Offer the ``s3`` backend; ``storage.backend = "s3"`` selects it.

    Installed plugins are loaded at every start, and importing aiobotocore (with
    aiohttp and botocore) costs about 0.9 s: a server that stores on local disk should
    not pay it (twice: the manager process and each worker). So the ``S3Storage``
    class is offered only when it is the chosen backend; otherwise the name is offered
    by a stand-in that imports it when it is instantiated.
    """
    if settings.storage.backend == "s3":
        from .storage import S3Storage

        return [S3Storage]
    return [_DeferredS3Storage]


class _DeferredS3Storage:
    """Names the ``s3`` backend without importing it (``cls(settings)`` builds the real one)."""

    name = "s3"

    def __new__(cls, settings: Any) -> Any:
        from .storage import S3Storage

        return S3Storage(settings)
