"""Health and the JSON error contract for everything, including Sanic's own errors."""

from sanic.response import json as json_response


def test_health(pichr_client):
    for path in ("/health", "/api/v1/health"):
        r = pichr_client.get(path)
        assert r.status == 200
        assert r.json == {
            "status": "ok", "version": "0.1.0", "database": "ok", "storage": "ok", "disk": "ok"
        }  # fmt: skip


def test_health_names_failing_storage(pichr_client):
    storage = pichr_client.runtime.storage
    storage.root.chmod(0o500)
    try:
        import os

        if os.access(storage.root, os.W_OK):  # root ignores permissions: break the path instead
            storage.root.chmod(0o700)
            storage.root = storage.root / "missing"
        r = pichr_client.get("/health")
        assert r.status == 503
        assert r.json["storage"] == "unavailable" and r.json["database"] == "ok"
        assert "storage" in r.json["error"]
    finally:
        storage.root.chmod(0o700) if storage.root.exists() else None


def test_unknown_route_and_method(pichr_client):
    r = pichr_client.get("/api/v1/nope")
    assert r.status == 404 and r.json["code"] == "not_found"
    r = pichr_client.delete("/api/v1/auth/signup")
    assert r.status == 405 and r.json["code"] == "method_not_allowed"


def test_oversized_json_is_413(pichr_client):
    big = b'{"email": "' + b"a" * 2_000_000 + b'"}'
    r = pichr_client.post(
        "/api/v1/auth/signup", content=big, headers={"content-type": "application/json"}
    )
    assert r.status == 413
    assert r.json["code"] == "payload_too_large"


def test_unexpected_exception_is_json_500_without_traceback(pichr_app):
    from sanic_testing.reusable import ReusableClient

    from pichr_appliance.testing import free_port

    @pichr_app.get("/boom")
    async def boom(request):
        raise RuntimeError("secret internals")

    @pichr_app.get("/fine")
    async def fine(request):
        return json_response({"ok": True})

    with ReusableClient(pichr_app, port=free_port()) as client:
        _, r = client.get("/boom")
        assert r.status == 500
        assert r.json["code"] == "internal_error"
        assert r.json["details"]["requestId"]
        assert "secret internals" not in r.text and "Traceback" not in r.text
        _, r = client.get("/fine")
        assert r.headers["x-content-type-options"] == "nosniff"
