"""The ``@operation`` declarations are complete, and answers are held to them."""

from __future__ import annotations

import pytest

from pichr_appliance.api.operations import (
    Operation,
    ResponseMismatch,
    check_body,
    operation_of,
)
from pichr_appliance.app import create_app
from pichr_appliance.schemas.files import ShareUrl
from pichr_appliance.testing import make_settings


def test_every_route_declares_its_operation(tmp_path):
    app = create_app(make_settings(tmp_path / "data"), name="pichr_operations_declared")
    missing = [
        (sorted(route.methods), route.path)
        for route in app.router.routes
        if not route.path.startswith("-/")
        and operation_of(route.handler) is None
        and not is_page(route.handler)
    ]
    assert missing == [], "routes without an @operation declaration"


def is_page(handler) -> bool:
    """HTML pages and assets of the web interface are not API operations."""
    return getattr(handler, "__pichr_page__", False) and handler.__module__.startswith(
        "pichr_appliance.web."
    )


def test_only_web_interface_routes_are_pages(tmp_path):
    app = create_app(make_settings(tmp_path / "data"), name="pichr_operations_pages")
    pages = [route.path for route in app.router.routes if is_page(route.handler)]
    assert "static/<version:str>/<relative:path>" in pages
    assert all(not path.startswith("api/") for path in pages)


def test_make_settings_switches_the_response_checker_on(tmp_path):
    assert make_settings(tmp_path / "data").server.check_responses is True


SHARE = Operation(id="shareFile", summary="", tag="files", auth="any", responses={200: ShareUrl})
GOOD = {"url": "http://x/i/file_a?sig=s", "expiresAt": "2030-01-01T00:00:00Z"}


def test_checker_accepts_the_declared_shape():
    check_body(SHARE, 200, GOOD)
    check_body(SHARE, 404, {"error": "File not found", "code": "not_found"})


def test_checker_rejects_a_missing_field():
    with pytest.raises(ResponseMismatch, match="expiresAt"):
        check_body(SHARE, 200, {"url": GOOD["url"]})


def test_checker_rejects_an_undeclared_field():
    with pytest.raises(ResponseMismatch, match="surprise"):
        check_body(SHARE, 200, {**GOOD, "surprise": 1})


def test_checker_rejects_an_undeclared_status_and_a_bad_error():
    with pytest.raises(ResponseMismatch, match="201"):
        check_body(SHARE, 201, GOOD)
    with pytest.raises(ResponseMismatch):
        check_body(SHARE, 400, {"error": "x"})  # no code


def test_a_mismatching_answer_becomes_a_500(pichr_client, pichr_user, monkeypatch):
    # Declare the wrong model for GET /auth/me: its real answer then lacks the declared
    # fields and carries undeclared ones, and the suite-wide checker must say so.
    from dataclasses import replace

    from pichr_appliance.api import auth as auth_api

    op = operation_of(auth_api.me)
    monkeypatch.setattr(auth_api.me, "__pichr_operation__", replace(op, responses={200: ShareUrl}))
    r = pichr_client.get("/api/v1/auth/me", headers=pichr_user["headers"])
    assert r.status == 500 and r.json["code"] == "response_mismatch", r.text
    assert "ShareUrl" in r.json["error"] and "user" in r.json["error"]
