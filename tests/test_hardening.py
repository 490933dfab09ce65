"""Hostile input at the edges: slow clients, huge headers, polyglots, headers on every answer."""

import time

import pytest
from PIL import Image

from pichr_appliance import imaging, security
from pichr_appliance.testing import LiveServer, raw_exchange, sample_image_bytes

MAX = 50_000_000


def test_a_client_that_stops_sending_is_cut_off(tmp_path):
    server = LiveServer(tmp_path / "data", env={"PICHR_SERVER__REQUEST_TIMEOUT": "1"}).start()
    try:
        t0 = time.monotonic()
        answer, closed = raw_exchange(server.port, b"GET /api/v1/files/public HTTP/1.1\r\nHost: x")
        elapsed = time.monotonic() - t0
    finally:
        server.stop()
    assert closed and elapsed < 5
    assert answer.startswith(b"HTTP/1.1 408")
    assert answer.endswith(b'{"error":"Request Timeout","code":"request_timeout"}')


def test_oversized_headers_and_urls_are_refused(pichr_client):
    r = pichr_client.get("/api/v1/files/public", headers={"X-Big": "a" * 20_000})
    assert r.status == 431 and r.json["code"] == "headers_too_large"
    r = pichr_client.get("/api/v1/files/public?q=" + "a" * 20_000)
    assert r.status in (414, 431) and "error" in r.json


@pytest.mark.parametrize(
    "path",
    ["/api/v1/files/public", "/api/v1/nope", "/health", "/i/file_nothing", "/api/v1/auth/me"],
)
def test_security_headers_on_every_answer(pichr_client, path):
    r = pichr_client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert "access-control-allow-origin" not in r.headers  # no CORS unless configured


def test_user_content_is_sandboxed(pichr_client, pichr_user):
    file = pichr_client.upload(pichr_user)
    r = pichr_client.get(f"/i/{file['id']}")
    assert r.status == 200 and r.headers["content-type"] == "image/png"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in r.headers["content-security-policy"]
    assert "default-src 'none'" in r.headers["content-security-policy"]


def gif_with_comment(text: bytes) -> bytes:
    base = sample_image_bytes("GIF", (16, 16))
    head_end = 13 + (3 * (2 << (base[10] & 7)) if base[10] & 0x80 else 0)
    return base[:head_end] + b"\x21\xfe" + bytes([len(text)]) + text + b"\x00" + base[head_end:]


def zip_bytes() -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Main-Class: Evil\n")
    return buf.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        gif_with_comment(b"<script>alert(document.domain)</script>"),
        gif_with_comment(b"<HTML><body onload=alert(1)>"),
        sample_image_bytes("JPEG") + zip_bytes(),  # JPEG + JAR ("GIFAR"-style)
        sample_image_bytes("PNG") + b"<svg onload=alert(1)>",
        sample_image_bytes("GIF")[:13] + b"%PDF-1.7" + sample_image_bytes("GIF")[13:],
    ],
)
def test_polyglots_are_refused(tmp_path, data):
    path = tmp_path / "img"
    path.write_bytes(data)
    with pytest.raises(imaging.ImageRejected) as err:
        imaging.inspect(path, max_pixels=MAX)
    assert err.value.code == "polyglot"


def test_ordinary_metadata_is_not_mistaken_for_markup(tmp_path):
    # XMP is XML inside the first bytes of many photos; it must still pass.
    img = Image.new("RGB", (40, 30), "teal")
    xmp = b'<?xpacket begin=""?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    path = tmp_path / "photo.jpg"
    img.save(path, format="JPEG", xmp=xmp)
    assert imaging.inspect(path, max_pixels=MAX).mime == "image/jpeg"


def test_polyglot_upload_is_415_and_nothing_is_kept(pichr_client, pichr_user):
    data = sample_image_bytes("JPEG") + zip_bytes()
    h = pichr_user["headers"]
    p = pichr_client.post(
        "/api/v1/upload/presign",
        headers=h,
        json={"filename": "a.jpg", "mime": "image/jpeg", "bytes": len(data)},
    ).json
    path = "/" + p["uploadUrl"].split("://", 1)[1].split("/", 1)[1]
    r = pichr_client.put(path, content=data)
    assert r.status == 415 and r.json["code"] == "polyglot"
    assert pichr_client.get(f"/i/{p['fileId']}").status == 404


def test_signed_urls_are_compared_in_constant_time(monkeypatch):
    calls = []
    real = security.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", spy)
    tokens = security.Tokens("s" * 32, 3600)
    exp = int(time.time()) + 60
    sig = tokens.sign_url("/i/file_x", exp)
    assert tokens.verify_url("/i/file_x", str(exp), sig)
    assert not tokens.verify_url("/i/file_x", str(exp), sig[:-1] + "A")
    assert len(calls) == 2
