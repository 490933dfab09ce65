"""The polyglot check: markup in metadata anywhere, archives after the image's end.

Unit tests on ``imaging.inspect`` for the corpus, one upload through a real server,
and the files that must still pass: a Photoshop JPEG with Apple's print-settings
plist (``<!DOCTYPE plist``) in APP13, XMP packets in APP1, "<3 my cat" in a comment.
"""

import io
import os
import re
import struct
import tracemalloc
import zipfile
import zlib

import pytest
from PIL import Image

from pichr_appliance import imaging
from pichr_appliance.testing import sample_image_bytes

MAX = 50_000_000
PLIST = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>com.apple.print.PageFormat.PMHorizontalRes</key>
	<dict>
		<key>com.apple.print.ticket.creator</key>
		<string>com.apple.jobticket</string>
		<key>com.apple.print.ticket.itemArray</key>
		<array><dict><key>com.apple.print.PageFormat.PMHorizontalRes</key><real>72</real>
		</dict></array>
	</dict>
	<key>com.apple.print.PageFormat.PMOrientation</key><integer>1</integer>
</dict>
</plist>
"""
XMP = b"""<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 5.6-c140">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
    xmp:CreatorTool="Adobe Photoshop CC 2019 (Macintosh)" photoshop:ColorMode="3">
   <dc:format>image/jpeg</dc:format>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">Party on the beach</rdf:li></rdf:Alt></dc:title>
   <photoshop:DocumentAncestors><rdf:Bag><rdf:li>xmp.did:1234</rdf:li></rdf:Bag>
   </photoshop:DocumentAncestors>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def jpeg_with(*segments: bytes, base: bytes | None = None) -> bytes:
    base = base or sample_image_bytes("JPEG", (32, 24))
    return base[:2] + b"".join(segments) + base[2:]


def photoshop_irb(resource_id: int, data: bytes) -> bytes:
    pad = b"\x00" if len(data) % 2 else b""
    block = b"8BIM" + struct.pack(">H", resource_id) + b"\x00\x00" + struct.pack(">I", len(data))
    return b"Photoshop 3.0\x00" + block + data + pad


def png_chunk(ctype: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(ctype + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", crc)


def noisy_png(size=(256, 256), extra: bytes = b"") -> bytes:
    """A PNG over 64 KiB (noise does not compress); ``extra`` chunks go after IHDR."""
    img = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    data = buf.getvalue()
    return data[:33] + extra + data[33:]


def zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Main-Class: Evil\n")
    return buf.getvalue()


def gif_with_extension(label: int, payload: bytes, app_id: bytes = b"") -> bytes:
    base = sample_image_bytes("GIF", (16, 16))
    head_end = 13 + (3 * (2 << (base[10] & 7)) if base[10] & 0x80 else 0)
    blocks = b""
    if app_id:
        blocks += bytes([len(app_id)]) + app_id
    for i in range(0, len(payload), 255):
        piece = payload[i : i + 255]
        blocks += bytes([len(piece)]) + piece
    return base[:head_end] + bytes([0x21, label]) + blocks + b"\x00" + base[head_end:]


def check(tmp_path, data: bytes, name="img"):
    path = tmp_path / name
    path.write_bytes(data)
    return imaging.inspect(path, max_pixels=MAX)


POLYGLOTS = {
    "jpeg COM img onerror": jpeg_with(segment(0xFE, b"<img src=x onerror=alert(1)>")),
    "jpeg COM javascript url": jpeg_with(segment(0xFE, b"<a href=javascript:alert(1)>x</a>")),
    "jpeg COM form": jpeg_with(segment(0xFE, b'<form action="//evil.example"><input>')),
    "jpeg COM style": jpeg_with(segment(0xFE, b"<style>body{background:url(//x)}</style>")),
    "jpeg COM namespaced script": jpeg_with(
        segment(0xFE, b'<x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>')
    ),
    "jpeg COM handler on any element": jpeg_with(segment(0xFE, b"<div\tonclick = alert(1)>")),
    "jpeg COM meta refresh": jpeg_with(
        segment(0xFE, b'<meta http-equiv="refresh" content="0;url=//evil.example">')
    ),
    "jpeg COM base": jpeg_with(segment(0xFE, b'<base href="//evil.example/">')),
    "jpeg APP1 deep svg": jpeg_with(segment(0xE1, b"x" * 8000 + b"<svg/onload=alert(1)>")),
    "png tEXt past 4 KiB": noisy_png(
        extra=png_chunk(b"tEXt", b"Comment\x00" + b"." * 6000)
        + png_chunk(b"tEXt", b"Comment\x00<script>alert(document.domain)</script>")
    ),
    "png private chunk iframe": noisy_png(
        extra=png_chunk(b"prVt", b"." * 5000 + b"<iframe src=//evil.example>")
    ),
    "gif application extension": gif_with_extension(
        0xFF, b"." * 5000 + b"<object data=x>", b"NETSCAPE2.0"
    ),
    "gif + zip + padding": sample_image_bytes("GIF") + zip_bytes() + b"\x00" * 70_000,
    "png + zip local header": noisy_png() + zip_bytes()[:30] + b"\x00" * 70_000,
    "jpeg + rar": sample_image_bytes("JPEG") + b"Rar!\x1a\x07\x01\x00" + b"\x00" * 70_000,
    "jpeg + 7z": sample_image_bytes("JPEG") + b"7z\xbc\xaf\x27\x1c" + b"\x00" * 70_000,
    "png + pdf": noisy_png() + b"%PDF-1.7\n1 0 obj<<>>endobj\n" + b"\x00" * 70_000,
}


@pytest.mark.parametrize("name", sorted(POLYGLOTS))
def test_polyglots_are_refused(tmp_path, name):
    with pytest.raises(imaging.ImageRejected) as err:
        check(tmp_path, POLYGLOTS[name])
    assert err.value.code == "polyglot", err.value.message


def test_webp_metadata_chunk_with_markup_is_refused(tmp_path):
    base = sample_image_bytes("WEBP", (16, 16))
    xmp = b"." * 5000 + b"<svg onload=alert(1)>"
    chunk = b"XMP " + struct.pack("<I", len(xmp)) + xmp + (b"\x00" if len(xmp) % 2 else b"")
    riff = base[8:] + chunk
    with pytest.raises(imaging.ImageRejected) as err:
        check(tmp_path, b"RIFF" + struct.pack("<I", len(riff)) + riff)
    assert err.value.code == "polyglot"


OK_FILES = {
    "photoshop plist in APP13": jpeg_with(segment(0xED, photoshop_irb(0x0BB7, PLIST))),
    "plist in APP1": jpeg_with(segment(0xE1, b"http://ns.apple.com/plist\x00" + PLIST)),
    "xmp in APP1": jpeg_with(segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + XMP)),
    "<3 in a comment": jpeg_with(
        segment(0xFE, b"<3 my cat <b>really</b>, 1<2 and a<b; see http://x.example/?q=1")
    ),
    "gif comment text": gif_with_extension(0xFE, b"made with <3 on a Mac; a<b, javascript is fun"),
    "png text chunk": noisy_png(extra=png_chunk(b"tEXt", b"Comment\x00<3 my cat, " * 400)),
    "png itxt xmp": noisy_png(
        extra=png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + XMP)
    ),
}


@pytest.mark.parametrize("name", sorted(OK_FILES))
def test_ordinary_metadata_passes(tmp_path, name):
    assert check(tmp_path, OK_FILES[name]).width > 0


def test_photoshop_jpeg_upload_through_the_server(pichr_client, pichr_user):
    ok = OK_FILES["photoshop plist in APP13"]
    bad = POLYGLOTS["jpeg COM img onerror"]
    h = pichr_user["headers"]
    r = pichr_client.post("/api/v1/upload?filename=ps.jpg", content=ok, headers=h)
    assert r.status == 201, r.text
    r = pichr_client.post("/api/v1/upload?filename=x.jpg", content=bad, headers=h)
    assert r.status == 415 and r.json["code"] == "polyglot", r.text


def test_the_scan_streams(tmp_path):
    # 40 MB of private PNG chunks: the check reads windows, never the file.
    chunks = png_chunk(b"prVt", b"\x00" * 1_000_000) * 40
    path = tmp_path / "big.png"
    path.write_bytes(noisy_png((16, 16), extra=chunks))
    tracemalloc.start()
    try:
        with open(path, "rb") as fh:
            imaging._check_polyglot(fh, "image/png")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000, peak


def test_markup_between_the_scans_of_a_progressive_jpeg_is_found(tmp_path):
    # The walk skips each scan's entropy-coded data (stuffed FF 00, restart markers,
    # many 64 KiB windows) to the next marker: a comment before a scan in the middle, far
    # from both ends of the file, is still read, and the file without it passes.
    img = Image.frombytes("RGB", (600, 600), os.urandom(600 * 600 * 3))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=95, progressive=True, restart_marker_blocks=4)
    data = buf.getvalue()
    scans = [m.start() for m in re.finditer(rb"\xff\xda", data)]  # never inside a scan
    middle = min(scans, key=lambda i: abs(i - len(data) // 2))  # a scan near the middle
    assert middle > 2 * 65_536 and len(data) - middle > 2 * 65_536
    assert data.count(b"\xff\x00") > 100 and data.count(b"\xff\xd3") > 10
    comment = segment(0xFE, b"<div onclick=alert(1)>")
    evil = data[:middle] + comment + data[middle:]
    assert check(tmp_path, data, "plain.jpg").width == 600
    with pytest.raises(imaging.ImageRejected) as refused:
        check(tmp_path, evil, "evil.jpg")
    assert refused.value.code == "polyglot"
