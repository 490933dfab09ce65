"""``S3Storage``: the appliance's storage contract on an S3-compatible bucket."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from pichr_appliance.config import ConfigError
from pichr_appliance.storage.base import (
    DEFAULT_CHUNK,
    ObjectNotFound,
    StorageBackend,
    StorageError,
    check_key,
)

log = logging.getLogger("pichr_s3")

PLUGIN = "pichr-s3"
MIB = 1024 * 1024
# S3 refuses multipart parts under 5 MiB (except the last one).
MIN_PART_SIZE = 5 * MIB
DEFAULT_PART_SIZE = 8 * MIB
# Network-level failures: the store is unreachable or the connection broke.
TRANSPORT_ERRORS = (BotoCoreError, aiohttp.ClientError, asyncio.TimeoutError, OSError)


def _fail(setting: str, message: str) -> ConfigError:
    return ConfigError(f"{PLUGIN}: storage.{setting}: {message}")


class S3Options:
    """The ``[storage]`` keys this backend reads, checked once at start."""

    def __init__(self, storage: Any) -> None:
        raw: dict[str, Any] = dict(storage.model_extra or {})
        self.endpoint_url = self._str(raw, "endpoint_url") or None
        self.region = self._str(raw, "region") or "us-east-1"
        self.bucket = self._str(raw, "bucket")
        if not self.bucket:
            raise _fail("bucket", 'required with storage.backend = "s3"')
        self.prefix = self._str(raw, "prefix").strip("/")
        if self.prefix:
            check_key(self.prefix)
            self.prefix += "/"
        self.access_key_id = self._str(raw, "access_key_id") or None
        self.secret_access_key = self._str(raw, "secret_access_key") or None
        if bool(self.access_key_id) != bool(self.secret_access_key):
            raise _fail("secret_access_key", "set both access_key_id and secret_access_key")
        self.path_style = self._bool(raw, "path_style", False)
        self.public_base_url = self._str(raw, "public_base_url").rstrip("/")
        self.serve = self._str(raw, "serve") or "proxy"
        if self.serve not in ("proxy", "redirect"):
            raise _fail("serve", '"proxy" or "redirect"')
        self.direct_uploads = self._bool(raw, "direct_uploads", False)
        self.presign_expires = self._int(raw, "presign_expires", 900, 1, 7 * 24 * 3600)
        self.public_max_age = self._int(raw, "public_max_age", 86400, 0, 365 * 24 * 3600)
        self.part_size = self._int(raw, "part_size", DEFAULT_PART_SIZE, MIN_PART_SIZE, 512 * MIB)
        self.connect_timeout = self._int(raw, "connect_timeout", 5, 1, 600)
        self.read_timeout = self._int(raw, "read_timeout", 60, 1, 3600)
        self.max_attempts = self._int(raw, "max_attempts", 3, 1, 20)
        self.max_connections = self._int(raw, "max_connections", 32, 1, 1024)

    @staticmethod
    def _str(raw: dict[str, Any], name: str) -> str:
        value = raw.get(name, "")
        if value is None:
            return ""
        if not isinstance(value, str):
            raise _fail(name, "must be a string")
        return value.strip()

    @staticmethod
    def _bool(raw: dict[str, Any], name: str, default: bool) -> bool:
        value = raw.get(name, default)
        if not isinstance(value, bool):
            raise _fail(name, "must be true or false")
        return value

    @staticmethod
    def _int(raw: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
        value = raw.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _fail(name, f"an integer from {low} to {high}")
        return value


class S3Storage(StorageBackend):
    """Objects in one bucket (under an optional key prefix) of any S3-compatible store:
    AWS S3, Cloudflare R2, SeaweedFS, MinIO, Garage...

    Writes are atomic as S3 makes them: a single PUT, or a multipart upload that becomes
    visible only when completed and is aborted on any failure. Bodies are never held
    whole in memory: at most one part (``storage.part_size``, 8 MiB) is buffered.
    """

    name = "s3"

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.options = S3Options(settings.storage)
        self.redirects = self.options.serve == "redirect"
        self.direct_uploads = self.options.direct_uploads
        self._stack: contextlib.AsyncExitStack | None = None
        self._client: Any = None

    # Life cycle -----------------------------------------------------------------------

    def client_config(self) -> AioConfig:
        """The botocore configuration: SigV4 always (botocore presigns
        with SigV2 by default, which SeaweedFS and R2 reject), bounded retries."""
        o = self.options
        return AioConfig(
            signature_version="s3v4",
            s3={"addressing_style": "path" if o.path_style else "virtual"},
            retries={"max_attempts": o.max_attempts, "mode": "standard"},
            connect_timeout=o.connect_timeout,
            read_timeout=o.read_timeout,
            max_pool_connections=o.max_connections,
            # Checksum headers newer botocore adds by default are not understood by
            # every S3-compatible server; send them only where the API requires them.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )

    async def startup(self) -> None:
        """Open the client and check that the bucket is reachable with these credentials."""
        o = self.options
        self._stack = contextlib.AsyncExitStack()
        self._client = await self._stack.enter_async_context(
            get_session().create_client(
                "s3",
                endpoint_url=o.endpoint_url,
                region_name=o.region,
                aws_access_key_id=o.access_key_id,
                aws_secret_access_key=o.secret_access_key,
                config=self.client_config(),
            )
        )
        try:
            await self._client.head_bucket(Bucket=o.bucket)
        except Exception as exc:
            await self.shutdown()
            raise StorageError(self._startup_message(exc)) from None

    def _startup_message(self, exc: Exception) -> str:
        o = self.options
        where = o.endpoint_url or f"AWS S3 ({o.region})"
        if isinstance(exc, NoCredentialsError):
            return (
                f"{PLUGIN}: storage.access_key_id: no credentials (set storage.access_key_id "
                "and storage.secret_access_key, or the AWS_* environment variables)"
            )
        if isinstance(exc, ClientError):
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = exc.response.get("Error", {}).get("Code", "")
            answer = f"{status} {code}" if code and code != str(status) else str(status)
            if status == 404 or code in ("404", "NoSuchBucket"):
                return (
                    f"{PLUGIN}: storage.bucket: bucket {o.bucket!r} does not exist at {where} "
                    "(create it first)"
                )
            if status in (401, 403):
                return (
                    f"{PLUGIN}: storage.access_key_id/storage.secret_access_key: {where} "
                    f"refused the credentials for bucket {o.bucket!r} ({answer})"
                )
            if status == 301:
                return f"{PLUGIN}: storage.region: bucket {o.bucket!r} lives in another region"
            return f"{PLUGIN}: storage.bucket: {where} answered {answer}"
        return f"{PLUGIN}: storage.endpoint_url: cannot reach {where}: {exc}"

    async def shutdown(self) -> None:
        """Close the client and its connection pool."""
        if self._stack is not None:
            stack, self._stack, self._client = self._stack, None, None
            await stack.aclose()

    async def health(self) -> None:
        """Raise StorageError when the bucket cannot be reached right now."""
        try:
            await self._s3.head_bucket(Bucket=self.options.bucket)
        except (ClientError, *TRANSPORT_ERRORS) as exc:
            raise self._error("health check", exc) from None

    # Helpers --------------------------------------------------------------------------

    @property
    def _s3(self) -> Any:
        if self._client is None:
            raise StorageError(f"{PLUGIN}: the backend is not started")
        return self._client

    def object_key(self, key: str) -> str:
        """The bucket key for a storage key (the configured prefix in front)."""
        return self.options.prefix + check_key(key)

    @staticmethod
    def _error(action: str, exc: BaseException) -> StorageError:
        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            return StorageError(
                f"{PLUGIN}: {action}: {err.get('Code', '?')} {err.get('Message', '')}".rstrip()
            )
        return StorageError(f"{PLUGIN}: {action}: {type(exc).__name__}: {exc}")

    @staticmethod
    def _missing(exc: ClientError) -> bool:
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return code in ("NoSuchKey", "404", "NotFound") or status == 404

    # Writes ---------------------------------------------------------------------------

    async def put(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str | None = None
    ) -> int:
        """Stream ``chunks`` into the bucket: one PUT for small bodies, else a multipart
        upload with ``part_size`` parts (completed at the end, aborted on failure)."""
        obj = self.object_key(key)
        bucket, part_size = self.options.bucket, self.options.part_size
        extra = {"ContentType": content_type} if content_type else {}
        pending: list[bytes] = []  # chunks of the part being filled (no re-copying)
        buffered = 0
        total = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async for chunk in chunks:
                pending.append(chunk)
                buffered += len(chunk)
                total += len(chunk)
                while buffered >= part_size:
                    if upload_id is None:
                        created = await self._s3.create_multipart_upload(
                            Bucket=bucket, Key=obj, **extra
                        )
                        upload_id = created["UploadId"]
                    data = b"".join(pending)
                    body, rest = data[:part_size], data[part_size:]
                    del data
                    pending, buffered = ([rest], len(rest)) if rest else ([], 0)
                    parts.append(await self._upload_part(obj, upload_id, len(parts) + 1, body))
                    del body
            tail = b"".join(pending)
            pending.clear()
            if upload_id is None:
                await self._s3.put_object(Bucket=bucket, Key=obj, Body=tail, **extra)
            else:
                if tail:
                    parts.append(await self._upload_part(obj, upload_id, len(parts) + 1, tail))
                await self._s3.complete_multipart_upload(
                    Bucket=bucket, Key=obj, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
        except BaseException as exc:
            if upload_id is not None:
                await self._abort(obj, upload_id)
            if isinstance(exc, (ClientError, *TRANSPORT_ERRORS)):
                raise self._error(f"writing {key}", exc) from None
            raise
        return total

    async def _upload_part(self, obj: str, upload_id: str, number: int, body: bytes) -> dict:
        result = await self._s3.upload_part(
            Bucket=self.options.bucket, Key=obj, UploadId=upload_id, PartNumber=number, Body=body
        )
        return {"PartNumber": number, "ETag": result["ETag"]}

    async def _abort(self, obj: str, upload_id: str) -> None:
        # Shielded: a cancelled request must still not leave parts billed in the bucket.
        try:
            await asyncio.shield(
                self._s3.abort_multipart_upload(
                    Bucket=self.options.bucket, Key=obj, UploadId=upload_id
                )
            )
        except Exception as exc:  # the bucket's lifecycle rules are the last resort
            log.warning("could not abort multipart upload of %s: %s", obj, exc)

    async def put_file(
        self, key: str, path: Path, *, content_type: str | None = None, move: bool = False
    ) -> int:
        """Upload a local file (part by part when large); ``move`` deletes it afterwards."""
        part_size = self.options.part_size

        async def parts() -> AsyncIterator[bytes]:
            with open(path, "rb") as fh:
                while data := await asyncio.to_thread(fh.read, part_size):
                    yield data

        total = await self.put(key, parts(), content_type=content_type)
        if move:
            Path(path).unlink(missing_ok=True)
        return total

    async def delete(self, key: str) -> None:
        """Delete ``key`` (S3 answers success for missing keys too)."""
        try:
            await self._s3.delete_object(Bucket=self.options.bucket, Key=self.object_key(key))
        except (ClientError, *TRANSPORT_ERRORS) as exc:
            raise self._error(f"deleting {key}", exc) from None

    # Reads ----------------------------------------------------------------------------

    async def open(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Stream the object (or a byte range of it, as a GetObject ``Range``)."""
        params: dict[str, Any] = {"Bucket": self.options.bucket, "Key": self.object_key(key)}
        if start or end is not None:
            params["Range"] = f"bytes={start}-{'' if end is None else end}"
        try:
            response = await self._s3.get_object(**params)
        except ClientError as exc:
            if self._missing(exc):
                raise ObjectNotFound(key) from None
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return  # a range past the end of the object: nothing to read
            raise self._error(f"reading {key}", exc) from None
        except TRANSPORT_ERRORS as exc:
            raise self._error(f"reading {key}", exc) from None
        body = response["Body"]
        try:
            async for chunk in body.iter_chunks(DEFAULT_CHUNK):
                yield chunk
        except TRANSPORT_ERRORS as exc:
            raise self._error(f"reading {key}", exc) from None
        finally:
            body.close()

    async def size(self, key: str) -> int | None:
        """The object's size from a HEAD request; None when absent."""
        try:
            head = await self._s3.head_object(Bucket=self.options.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if self._missing(exc):
                return None
            raise self._error(f"checking {key}", exc) from None
        except TRANSPORT_ERRORS as exc:
            raise self._error(f"checking {key}", exc) from None
        return int(head["ContentLength"])

    async def list_keys(self, prefix: str = "") -> AsyncIterator[str]:
        """Every storage key under ``prefix`` (ListObjectsV2, page by page)."""
        base = self.options.prefix
        paginator = self._s3.get_paginator("list_objects_v2")
        try:
            async for page in paginator.paginate(Bucket=self.options.bucket, Prefix=base + prefix):
                for item in page.get("Contents", []):
                    yield item["Key"][len(base) :]
        except (ClientError, *TRANSPORT_ERRORS) as exc:
            raise self._error(f"listing {prefix or '/'}", exc) from None

    # URLs -----------------------------------------------------------------------------

    def public_url(self, key: str) -> str | None:
        """``public_base_url`` + the object key (a public bucket or a CDN in front)."""
        if self.options.public_base_url:
            return f"{self.options.public_base_url}/{quote(self.object_key(key))}"
        return super().public_url(key)

    async def redirect_url(
        self,
        key: str,
        *,
        public: bool,
        content_type: str | None = None,
        download_name: str | None = None,
    ) -> tuple[str, int]:
        """The public URL for public files, else a presigned GET (``presign_expires``)."""
        if public and not download_name and self.options.public_base_url:
            return self.public_url(key) or "", self.options.public_max_age
        params: dict[str, Any] = {"Bucket": self.options.bucket, "Key": self.object_key(key)}
        if content_type:
            params["ResponseContentType"] = content_type
        if download_name:
            params["ResponseContentDisposition"] = f'attachment; filename="{download_name}"'
        url = await self._s3.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=self.options.presign_expires
        )
        return url, self.options.presign_expires

    async def presign_put(self, key: str, *, content_type: str, expires: int) -> str:
        """A presigned PUT for ``key``; the signature covers ``Content-Type``."""
        return await self._s3.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self.options.bucket,
                "Key": self.object_key(key),
                "ContentType": content_type,
            },
            ExpiresIn=expires,
        )

    def local_path(self, key: str) -> Path | None:
        """Objects live in the bucket: no local path."""
        return None
