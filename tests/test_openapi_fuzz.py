"""Property-based fuzzing of a live server against its own OpenAPI document.

schemathesis reads ``/api/v1/openapi.json`` from a real ``pichr-appliance serve`` and
sends generated requests (valid and invalid) to every operation, as an anonymous
caller, a signed-in user, the same user's API key and an admin. Every answer must be
one the document describes: no 5xx, only documented status codes, content types and
headers, and bodies that match the schemas (response objects are closed, so a field
the code adds without documenting it fails here too).

Path ids are swapped for real ones (files, albums, uploads, reports) half of the time,
so that handlers get past "not found" and meet the generated bodies; each generated
request is sent once per identity.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode

from pichr_appliance.openapi import build_document
from pichr_appliance.testing import LiveServer, make_settings, sample_image_bytes

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 20
HIGH = "1000000"
ENV = {
    "PICHR_PLANS__ANONYMOUS__REQUESTS_PER_HOUR": HIGH,
    "PICHR_PLANS__ANONYMOUS__UPLOADS_PER_HOUR": HIGH,
    "PICHR_PLANS__FREE__REQUESTS_PER_HOUR": HIGH,
    "PICHR_PLANS__FREE__UPLOADS_PER_HOUR": HIGH,
    "PICHR_RATE_LIMITS__LOGIN_PER_IP_PER_HOUR": HIGH,
    "PICHR_RATE_LIMITS__SIGNUP_PER_IP_PER_HOUR": HIGH,
    "PICHR_UPLOADS__ALLOW_ANONYMOUS": "true",
}
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
]
WHO = ("anonymous", "user", "api_key", "admin")
# Operations that would end the fuzzing identities' sessions: run with a fresh login.
FRESH_SESSION = {("POST", "/api/v1/auth/logout")}


class Fixture:
    """The live server plus the identities and ids the fuzzer may use."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=30)
        self.headers: dict[str, dict[str, str]] = {"anonymous": {}}
        self.ids: dict[str, list[str]] = {}
        self.logins: dict[str, dict[str, str]] = {}

    def signup(self, username: str) -> dict:
        """A new account; returns its signup answer."""
        body = {
            "email": f"{username}@example.com",
            "password": "correct horse battery",
            "username": username,
            "ageConfirmed": True,
        }
        r = self.http.post("/api/v1/auth/signup", json=body)
        assert r.status_code == 201, r.text
        self.logins[username] = {"email": body["email"], "password": body["password"]}
        return r.json()

    def bearer(self, token: str) -> dict[str, str]:
        """An ``Authorization`` header."""
        return {"Authorization": f"Bearer {token}"}

    def fresh_session(self, who: str) -> dict[str, str]:
        """Headers of a new session for ``who`` (for operations that end sessions)."""
        if who in ("anonymous", "api_key"):
            return self.headers[who]
        r = self.http.post("/api/v1/auth/login", json=self.logins[who])
        assert r.status_code == 200, r.text
        return self.bearer(r.json()["session"]["access_token"])

    def upload(self, headers: dict[str, str], **fields) -> str:
        """Presign and PUT a small PNG; returns the file id."""
        data = sample_image_bytes("PNG")
        body = {"filename": "f.png", "mime": "image/png", "bytes": len(data), **fields}
        r = self.http.post("/api/v1/upload/presign", headers=headers, json=body)
        assert r.status_code == 201, r.text
        url = urlsplit(r.json()["uploadUrl"])
        r = self.http.put(f"{url.path}?{url.query}", content=data)
        assert r.status_code == 200, r.text
        return r.json()["fileId"]

    def populate(self) -> None:
        """Accounts, files of each visibility, albums, uploads and reports."""
        user = self.signup("user")
        self.headers["user"] = h = self.bearer(user["session"]["access_token"])
        admin = self.signup("admin")
        subprocess.run(
            [sys.executable, "-m", "pichr_appliance", "user", "set-role", "admin", "admin"]
            + ["--data-dir", str(self.server.data_dir)],
            env=self.server.env,
            check=True,
            capture_output=True,
        )
        self.headers["admin"] = self.bearer(admin["session"]["access_token"])
        r = self.http.post(
            "/api/v1/api-keys",
            headers=h,
            json={"name": "fuzz", "permissions": ["upload", "read", "write", "delete"]},
        )
        assert r.status_code == 201, r.text
        self.headers["api_key"] = self.bearer(r.json()["key"])
        files = [
            self.upload(h, visibility=v, tags=["fuzz"]) for v in ("public", "unlisted", "private")
        ]
        files.append(self.upload(self.headers["admin"]))
        files.append(self.upload({}))  # anonymous
        albums = []
        for visibility in ("public", "private"):
            r = self.http.post(
                "/api/v1/albums",
                headers=h,
                json={"title": "a", "visibility": visibility, "fileIds": files[:3]},
            )
            assert r.status_code == 201, r.text
            albums.append(r.json()["id"])
        r = self.http.post(
            "/api/v1/upload/multipart/init",
            headers=h,
            json={"filename": "m.png", "mime": "image/png", "totalBytes": 100, "partSize": 100},
        )
        assert r.status_code == 201, r.text
        uploads = [r.json()["uploadId"]]
        # Staff decisions (bans, role changes) land on a bystander, not on the callers.
        victim = self.signup("victim")
        victim_file = self.upload(self.bearer(victim["session"]["access_token"]))
        r = self.http.post(
            "/api/v1/moderation/report", json={"fileId": victim_file, "reason": "spam"}
        )
        assert r.status_code == 201, r.text
        reports = [r.json()["id"]]
        self.ids = {
            "file_id": files,
            "name": files + [f"{files[0]}.png"],
            "album_id": albums,
            "upload_id": uploads,
            "report_id": reports,
            "user_id": [victim["user"]["id"]],
        }


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory):
    """A live server on a fresh data directory, populated, with high rate limits."""
    data_dir: Path = tmp_path_factory.mktemp("fuzz") / "data"
    # SQLite even in the PostgreSQL run: this server lives for the module, and throwaway
    # PostgreSQL databases are dropped after each test. The fuzz checks the HTTP
    # contract; the API suite covers the engines.
    database = "sqlite://" + str(data_dir.resolve() / "pichr.sqlite3")
    server = LiveServer(data_dir, env={**ENV, "PICHR_DATABASE__URL": database}).start()
    try:
        fixture = Fixture(server)
        fixture.populate()
        yield fixture
    finally:
        code = server.stop()
        assert code == 0, server.output()


@pytest.fixture(scope="module")
def api_schema(fuzz: Fixture):
    """The document as the live server serves it."""
    schema = schemathesis.openapi.from_url(f"{fuzz.server.url}/api/v1/openapi.json")
    schema.config.update(base_url=fuzz.server.url)
    return schema


def _operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every documented operation (paths do not depend on settings)."""
    with tempfile.TemporaryDirectory() as tmp:
        doc = build_document(make_settings(Path(tmp) / "data"))
    operations = [
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method in {"get", "put", "post", "patch", "delete", "head"}
    ]
    # Deletions last, so that the others meet the populated files and albums.
    return sorted(operations, key=lambda op: (op[0] == "DELETE", op))


@pytest.mark.parametrize(("method", "path"), _operations(), ids=lambda v: v)
def test_server_answers_as_documented(method: str, path: str, api_schema, fuzz: Fixture):
    operation = api_schema[path][method]
    strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
        GenerationMode.NEGATIVE
    )

    @given(case=strategy, data=st.data())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def run(case, data) -> None:
        for name in list(case.path_parameters or {}):
            known = fuzz.ids.get(name)
            if known and data.draw(st.booleans(), label=f"real {name}"):
                case.path_parameters[name] = data.draw(st.sampled_from(known), label=name)
        for who in WHO:
            headers = dict(fuzz.headers[who])
            if (case.method, case.path) in FRESH_SESSION:
                headers = fuzz.fresh_session(who)
            case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)

    run()


def test_fuzzing_identities_stayed_signed_in(fuzz: Fixture):
    # Runs after the fuzzing: had a generated request revoked the identities (a ban, a
    # logout), the authenticated routes would only have been fuzzed as far as a 401.
    for who in ("user", "api_key", "admin"):
        r = fuzz.http.get("/api/v1/auth/me", headers=fuzz.headers[who])
        assert r.status_code == 200, (who, r.text)
