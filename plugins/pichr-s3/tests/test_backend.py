"""The S3 backend against a real SeaweedFS: the core's contract suite, multipart
streaming with bounded memory, prefixes, public URLs, and start-up errors."""

from __future__ import annotations

import os
import tracemalloc
import uuid

import pytest
from pichr_s3 import S3Storage
from pichr_s3.storage import DEFAULT_PART_SIZE

from pichr_appliance.config import ConfigError
from pichr_appliance.storage import StorageError
from pichr_appliance.storage.contract import StorageBackendContract
from pichr_appliance.testing import make_settings

MIB = 1024 * 1024


def make_backend(tmp_path, seaweed, **storage) -> S3Storage:
    settings = make_settings(
        tmp_path / f"data-{uuid.uuid4().hex[:6]}",
        {"storage": seaweed.storage_settings(**storage)},
    )
    return S3Storage(settings)


@pytest.fixture
async def backend(tmp_path, seaweed):
    b = make_backend(tmp_path, seaweed)
    await b.startup()
    yield b
    await b.shutdown()


class TestS3Contract(StorageBackendContract):
    """Everything the local backend promises, on a bucket."""


async def _stream(total: int, chunk: int = 256 * 1024, fail_after: int | None = None):
    sent = 0
    block = os.urandom(chunk)
    while sent < total:
        if fail_after is not None and sent >= fail_after:
            raise RuntimeError("client went away")
        n = min(chunk, total - sent)
        sent += n
        yield block[:n]


async def _read(b, key, start=0, end=None) -> bytes:
    return b"".join([c async for c in b.open(key, start, end)])


async def test_large_put_is_a_multipart_upload_with_bounded_memory(backend, seaweed):
    total = 40 * MIB + 123
    tracemalloc.start()
    try:
        assert await backend.put("big/a.bin", _stream(total)) == total
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # One part buffered plus its copy on the wire, never the whole 40 MiB body.
    assert peak < 3 * DEFAULT_PART_SIZE, peak
    head = seaweed.client().head_object(Bucket=seaweed.bucket, Key=backend.object_key("big/a.bin"))
    assert head["ContentLength"] == total
    assert head["ETag"].strip('"').endswith("-6")  # 5 parts of 8 MiB + the rest
    # A range across a part boundary.
    data = await _read(backend, "big/a.bin", DEFAULT_PART_SIZE - 10, DEFAULT_PART_SIZE + 9)
    assert len(data) == 20


async def test_failed_multipart_put_is_aborted(backend, seaweed):
    key = "big/broken.bin"
    with pytest.raises(RuntimeError):
        await backend.put(key, _stream(30 * MIB, fail_after=17 * MIB))
    assert await backend.size(key) is None
    pending = seaweed.client().list_multipart_uploads(
        Bucket=seaweed.bucket, Prefix=backend.object_key(key)
    )
    assert pending.get("Uploads", []) == []


async def test_put_file_of_many_parts_and_move(backend, tmp_path):
    src = tmp_path / "big.bin"
    data = os.urandom(DEFAULT_PART_SIZE * 2 + 5)
    src.write_bytes(data)
    assert await backend.put_file("f/big.bin", src, content_type="image/png", move=True) == len(
        data
    )
    assert not src.exists()
    assert await _read(backend, "f/big.bin") == data


async def test_keys_live_under_the_prefix(backend, bucket_keys):
    await backend.put("uploads/x/pic.png", _stream(10))
    assert bucket_keys(backend.options.prefix) == [f"{backend.options.prefix}uploads/x/pic.png"]
    assert [k async for k in backend.list_keys("uploads/")] == ["uploads/x/pic.png"]


async def test_public_url_uses_public_base_url(tmp_path, seaweed):
    b = make_backend(tmp_path, seaweed, prefix="img", public_base_url="https://cdn.example/")
    assert b.public_url("uploads/a b.png") == "https://cdn.example/img/uploads/a%20b.png"
    plain = make_backend(tmp_path, seaweed)
    assert plain.public_url("uploads/a.png") is None


@pytest.mark.parametrize(
    ("storage", "setting"),
    [
        ({"secret_access_key": "wrong"}, "storage.access_key_id/storage.secret_access_key"),
        ({"access_key_id": "nobody"}, "storage.access_key_id/storage.secret_access_key"),
        ({"bucket": "no-such-bucket"}, "storage.bucket: bucket 'no-such-bucket' does not"),
        ({"endpoint_url": "http://127.0.0.1:9", "max_attempts": 1}, "storage.endpoint_url"),
    ],
)
async def test_startup_errors_name_the_plugin_and_setting(tmp_path, seaweed, storage, setting):
    b = make_backend(tmp_path, seaweed, **storage)
    with pytest.raises(StorageError) as info:
        await b.startup()
    message = str(info.value)
    assert message.startswith("pichr-s3: ") and setting in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("storage", "needle"),
    [
        ({"bucket": ""}, "pichr-s3: storage.bucket: required"),
        ({"serve": "teleport"}, "pichr-s3: storage.serve"),
        ({"part_size": 1024}, "pichr-s3: storage.part_size"),
        ({"secret_access_key": ""}, "pichr-s3: storage.secret_access_key"),
        ({"path_style": "yes please"}, "pichr-s3: storage.path_style"),
    ],
)
def test_bad_settings_are_config_errors(tmp_path, seaweed, storage, needle):
    with pytest.raises(ConfigError, match=needle):
        make_backend(tmp_path, seaweed, **storage)


async def test_store_going_away_is_a_storage_error(tmp_path, weed):
    from pichr_s3.testing import SeaweedS3

    server = SeaweedS3().start()
    b = make_backend(tmp_path, server, max_attempts=1, connect_timeout=2)
    await b.startup()
    await b.put("a.bin", _stream(10))
    server.stop(crash=True)
    try:
        with pytest.raises(StorageError, match="pichr-s3: writing b.bin"):
            await b.put("b.bin", _stream(10))
        with pytest.raises(StorageError, match="pichr-s3: reading a.bin"):
            await _read(b, "a.bin")
        with pytest.raises(StorageError):
            await b.health()
    finally:
        await b.shutdown()
