"""Every photo a phone or camera makes (issue 16): HEIC/HEIF, TIFF, BMP, MPO, every AVIF
brand, Photoshop JPEGs; location removed from EXIF, XMP and IPTC in every container
without touching a pixel; animation kept in WebP variants; a blurhash in the File.

Samples are generated: Pillow writes TIFF, BMP, MPO, AVIF, WebP, PNG, GIF; HEIC comes
from pillow-heif's encoder (a test dependency only: the appliance decodes with the
decode-only pi-heif), with EXIF orientation 6 (written as ``irot``, as iPhones do) and GPS.
Each goes through the real API: upload, serve the original, make a variant.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import struct

import pytest
from PIL import Image, IptcImagePlugin, PngImagePlugin

from pichr_appliance import formats, imaging, isolation

MAX = 50_000_000
CITY = b"Carcassonne"  # an IPTC/XMP city no other byte of a sample contains
XMP_GPS = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
    b'<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/"\n'
    b' xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"\n'
    b' xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"\n'
    b' xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
    b' exif:GPSLatitude="43,12.6N" exif:GPSLongitude="2,21.1E" photoshop:City="' + CITY + b'">\n'
    b" <exif:GPSAltitude>110/1</exif:GPSAltitude>\n"
    b" <photoshop:Country>France</photoshop:Country>\n"
    b' <Iptc4xmpExt:LocationCreated><rdf:Bag><rdf:li rdf:parseType="Resource">'
    b"<Iptc4xmpExt:City>" + CITY + b"</Iptc4xmpExt:City></rdf:li></rdf:Bag>"
    b"</Iptc4xmpExt:LocationCreated>\n"
    b' <dc:title><rdf:Alt><rdf:li xml:lang="x-default">Ramparts</rdf:li></rdf:Alt></dc:title>\n'
    b"</rdf:Description></rdf:RDF></x:xmpmeta>\n"
    b'<?xpacket end="w"?>'
)
LOCATION_TEXT = (CITY, b"GPSLatitude", b"GPSAltitude", b"France", b"LocationCreated")


def photo(size=(96, 64)) -> Image.Image:
    """Gradients and detail, so that a changed pixel or a flipped orientation shows."""
    w, h = size
    img = Image.new("RGB", size)
    img.putdata([(x * 255 // w, y * 255 // h, (x * y) % 256) for y in range(h) for x in range(w)])
    return img


def gps_exif(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif[imaging.ORIENTATION] = orientation
    exif[imaging.GPS_IFD] = {1: "N", 2: (43.0, 12.0, 36.0), 3: "E", 4: (2.0, 21.0, 6.0)}
    return exif.tobytes()


def encode(img: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


def iptc_block(city: bytes = CITY) -> bytes:
    def dataset(number: int, value: bytes) -> bytes:
        return b"\x1c\x02" + bytes([number]) + struct.pack(">H", len(value)) + value

    return dataset(5, b"Ramparts") + dataset(90, city) + dataset(101, b"France")


def irb(resource_id: int, data: bytes) -> bytes:
    pad = b"\x00" if len(data) % 2 else b""
    return b"8BIM" + struct.pack(">HxxI", resource_id, len(data)) + data + pad


def app(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def with_segments(jpeg: bytes, *segments: bytes) -> bytes:
    return jpeg[:2] + b"".join(segments) + jpeg[2:]


PLIST = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN"'
    b' "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<plist version="1.0">\n<dict>\n'
    b"\t<key>com.apple.print.PageFormat.PMOrientation</key>\n\t<dict>\n"
    b"\t\t<key>com.apple.print.ticket.creator</key>\n\t\t<string>com.apple.jobticket</string>\n"
    b"\t\t<key>com.apple.print.ticket.stateFlag</key>\n\t\t<integer>0</integer>\n\t</dict>\n"
    b"\t<key>com.apple.print.PageFormat.PMAdjustedPageRect</key>\n\t<array>\n"
    b"\t\t<real>0.0</real>\n\t\t<real>734</real>\n\t</array>\n</dict>\n</plist>\n"
)


def photoshop_jpeg() -> bytes:
    """A JPEG as Photoshop saves it: APP13 with binary resources, the Apple print plist,
    a JPEG thumbnail and IPTC (with a city); XMP with GPS in APP1; EXIF GPS."""
    base = encode(photo(), "JPEG", quality=90, exif=gps_exif())
    thumb = encode(photo((32, 20)), "JPEG", quality=70)
    resources = (
        irb(0x03ED, b"\x00\x48\x00\x00\x00\x01\x00\x01" * 2)  # resolution info
        + irb(0x0BB7, PLIST)
        + irb(0x040C, b"\x00" * 28 + thumb)
        + irb(0x0404, iptc_block())
    )
    return with_segments(
        base,
        app(0xED, b"Photoshop 3.0\x00" + resources),
        app(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + XMP_GPS),
    )


def heic(orientation: int = 6) -> bytes:
    pillow_heif = pytest.importorskip("pillow_heif")
    buf = io.BytesIO()
    heif = pillow_heif.from_pillow(photo())
    heif.save(buf, quality=90, exif=gps_exif(orientation), xmp=XMP_GPS)
    return buf.getvalue()


def mif1_avif() -> bytes:
    """An AVIF whose major brand is ``mif1`` with ``avif`` among the compatible ones."""
    data = encode(photo(), "AVIF", quality=80, exif=gps_exif(), xmp=XMP_GPS)
    assert data[8:12] == b"avif" and b"mif1" in data[16:32]
    return data[:8] + b"mif1" + data[12:]


def mpo() -> bytes:
    first, second = photo(), photo().transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return encode(first, "MPO", save_all=True, append_images=[second], exif=gps_exif())


def tiff_pages() -> bytes:
    pages = [photo((40, 30)), photo((20, 20))]
    return encode(
        photo(), "TIFF", save_all=True, append_images=pages, compression="tiff_lzw",
        exif=gps_exif(), tiffinfo={700: XMP_GPS, 33723: iptc_block()},
    )  # fmt: skip


def apng() -> bytes:
    frames = [Image.new("RGBA", (40, 30), c) for c in ("red", "green", "blue")]
    return encode(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=80, loop=0)


def animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (40, 30), c) for c in ("red", "green", "blue", "white")]
    options = {"lossless": True} if fmt == "WEBP" else {}
    return encode(
        frames[0], fmt, save_all=True, append_images=frames[1:], duration=70, loop=0, **options
    )


def png_with_metadata() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", XMP_GPS.decode())
    info.add_itxt("Comment", "kept", zip=True)
    return encode(photo(), "PNG", exif=gps_exif(), pnginfo=info)


SAMPLES = {
    # name: (maker, mime stored, declared mime)
    "heic orientation 6 + gps": (heic, "image/heic", "image/heic"),
    "heic declared image/heif": (heic, "image/heic", "image/heif"),
    "tiff three pages": (tiff_pages, "image/tiff", "image/tiff"),
    "bmp": (lambda: encode(photo(), "BMP"), "image/bmp", "image/bmp"),
    "mpo": (mpo, "image/jpeg", "image/jpeg"),
    "avif mif1 brand": (mif1_avif, "image/avif", "image/avif"),
    "photoshop jpeg": (photoshop_jpeg, "image/jpeg", "image/jpeg"),
    "xmp-only gps jpeg": (
        lambda: with_segments(
            encode(photo(), "JPEG", quality=92),
            app(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + XMP_GPS),
        ),
        "image/jpeg",
        "image/jpeg",
    ),
    "lossy webp exif+xmp": (
        lambda: encode(photo(), "WEBP", quality=70, exif=gps_exif(), xmp=XMP_GPS),
        "image/webp",
        "image/webp",
    ),
    "lossy avif exif+xmp": (
        lambda: encode(photo(), "AVIF", quality=60, exif=gps_exif(), xmp=XMP_GPS),
        "image/avif",
        "image/avif",
    ),
    "png exif+xmp": (png_with_metadata, "image/png", "image/png"),
    "animated gif": (lambda: animated("GIF"), "image/gif", "image/gif"),
    "animated webp": (lambda: animated("WEBP"), "image/webp", "image/webp"),
    "apng": (apng, "image/png", "image/png"),
}
WITHOUT_LOCATION = {"bmp", "animated gif", "animated webp", "apng"}


def decoded(data: bytes, mime: str) -> list[bytes]:
    """Every frame's pixels, as the appliance's decoders read them."""
    with formats.open_image(io.BytesIO(data), formats.sniff(data[:64]) or mime) as img:
        out = []
        for index in range(getattr(img, "n_frames", 1)):
            img.seek(index)
            out.append(img.convert("RGBA").tobytes())
        return out


def location_left(data: bytes) -> list[str]:
    """Every location field still in the file: EXIF GPS, XMP and IPTC text, raw bytes."""
    found = [repr(t) for t in LOCATION_TEXT if t in data]
    mime = formats.sniff(data[:64])
    with formats.open_image(io.BytesIO(data), mime) as img:
        for index in range(getattr(img, "n_frames", 1)):
            img.seek(index)
            exif = img.getexif()
            if imaging.GPS_IFD in exif and exif.get_ifd(imaging.GPS_IFD):
                found.append(f"EXIF GPS in frame {index}")
        if img.format in ("JPEG", "MPO", "TIFF"):
            iptc = IptcImagePlugin.getiptcinfo(img) or {}
            found += [f"IPTC {k}" for k, v in iptc.items() if k[1] in (90, 101) and v.strip()]
    return found


def test_sniffing_names_every_type():
    for name, (maker, mime, _) in SAMPLES.items():
        assert formats.sniff(maker()[:64]) == mime, name
    assert formats.sniff(b"BM" + b"\x00" * 12 + b"\x99\x00\x00\x00") is None  # not a DIB size
    assert formats.sniff(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom") is None  # video


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_inspect_accepts_strips_and_keeps_pixels(tmp_path, name):
    maker, mime, _ = SAMPLES[name]
    original = maker()
    path = tmp_path / "img"
    path.write_bytes(original)
    info = imaging.inspect(path, max_pixels=MAX)
    assert info.mime == mime and info.blurhash
    stored = path.read_bytes()
    assert len(stored) == len(original) or mime == "image/png"  # edited in place
    if name not in WITHOUT_LOCATION:
        assert location_left(original), name  # the sample does carry location
    assert location_left(stored) == [], name
    assert decoded(stored, mime) == decoded(original, mime)  # not one pixel changed
    assert info.location_stripped == (stored != original)


def test_heic_orientation_and_ceiling(tmp_path):
    path = tmp_path / "phone.heic"
    path.write_bytes(heic(orientation=6))
    info = imaging.inspect(path, max_pixels=MAX)
    assert (info.width, info.height) == (64, 96)  # turned upright (irot), as shown
    with pytest.raises(imaging.ImageRejected) as err:
        imaging.inspect(path, max_pixels=64 * 96 - 1)
    assert err.value.code == "image_too_large"
    with pytest.raises(imaging.ImageRejected) as err:
        imaging.inspect(path, max_pixels=MAX, max_buffered=1024 * 1024 // 1024)
    assert err.value.code == "too_much_metadata"
    out = imaging.make_variant(
        path, width=32, height=None, fit="contain", fmt="jpeg", quality=80, mime="image/heic"
    )
    with Image.open(io.BytesIO(out)) as img:
        assert img.size == (32, 48)


def test_tiff_pages_count_together_against_the_ceiling(tmp_path):
    path = tmp_path / "pages.tif"
    path.write_bytes(tiff_pages())
    assert imaging.inspect(path, max_pixels=MAX).frames == 3
    # The first page alone fits; all three do not.
    with pytest.raises(imaging.ImageRejected) as err:
        imaging.inspect(path, max_pixels=96 * 64 + 40 * 30)
    assert err.value.code == "image_too_large"


def test_tiff_tag_data_is_measured_before_decoding(tmp_path):
    path = tmp_path / "big-tag.tif"
    path.write_bytes(encode(photo(), "TIFF", tiffinfo={700: b" " * 300_000}))
    with pytest.raises(imaging.ImageRejected) as err:
        imaging.inspect(path, max_pixels=MAX, max_metadata=100_000)
    assert err.value.code == "too_much_metadata"
    assert imaging.inspect(path, max_pixels=MAX, max_metadata=400_000).mime == "image/tiff"


def png_chunk(ctype: bytes, data: bytes) -> bytes:
    import zlib

    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def test_png_private_chunks_are_measured_before_decoding(tmp_path):
    base = encode(photo(), "PNG")
    chunks = png_chunk(b"prVt", b"\x00" * 60_000) * 3
    path = tmp_path / "private.png"
    path.write_bytes(base[:33] + chunks + base[33:])
    with pytest.raises(imaging.ImageRejected) as err:
        imaging.inspect(path, max_pixels=MAX, max_metadata=150_000)
    assert err.value.code == "too_much_metadata"
    assert imaging.inspect(path, max_pixels=MAX, max_metadata=200_000).mime == "image/png"


def test_bmp_bomb_refused_from_the_header(tmp_path):
    # A BMP header claiming 30000 x 30000 pixels, with almost no data behind it.
    head = b"BM" + struct.pack("<IHHI", 0, 0, 0, 54)
    dib = struct.pack("<IiiHHIIiiII", 40, 30000, 30000, 1, 24, 0, 0, 2835, 2835, 0, 0)
    path = tmp_path / "bomb.bmp"
    path.write_bytes(head + dib + b"\x00" * 100)
    with pytest.raises(imaging.ImageRejected) as err:
        imaging.inspect(path, max_pixels=MAX)
    assert err.value.code == "image_too_large"


def test_markup_in_a_tiff_or_bmp_is_a_polyglot(tmp_path):
    html = b"<html><body><script>alert(document.domain)</script></body></html>"
    bad_tiff = encode(photo(), "TIFF", tiffinfo={305: html.decode()})  # Software tag
    noisy = Image.frombytes("RGB", (64, 64), bytes(range(256)) * 48)
    data = bytearray(encode(noisy, "BMP"))
    data[6000 : 6000 + len(html)] = html  # raw pixels that are also a page
    for name, payload in (("t.tif", bad_tiff), ("b.bmp", bytes(data))):
        path = tmp_path / name
        path.write_bytes(payload)
        with pytest.raises(imaging.ImageRejected) as err:
            imaging.inspect(path, max_pixels=MAX)
        assert err.value.code == "polyglot", name


def test_keep_location_leaves_the_bytes_alone(tmp_path):
    for maker in (photoshop_jpeg, heic, tiff_pages):
        data = maker()
        path = tmp_path / "kept"
        path.write_bytes(data)
        assert not imaging.inspect(path, max_pixels=MAX, strip_location=False).location_stripped
        assert path.read_bytes() == data


# ---------------------------------------------------------------- through the server


def fetch(client, user, fid: str, query: str = "", **headers):
    r = client.get(f"/i/{fid}{query}", headers={**user["headers"], **headers})
    assert r.status == 200, (query, r.status, r.text[:200])
    return r


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_upload_serve_and_variant_through_the_server(pichr_client, pichr_user, name):
    maker, mime, declared = SAMPLES[name]
    data = maker()
    f = pichr_client.upload(pichr_user, data, filename="photo", mime=declared)
    assert f["mime"] == mime and f["status"] == "ready" and f["blurhash"]
    original = fetch(pichr_client, pichr_user, f["id"], "?original=1")
    assert original.headers["content-type"] == mime
    assert location_left(original.content) == []
    assert decoded(original.content, mime) == decoded(data, mime)
    variant = fetch(pichr_client, pichr_user, f["id"], "?w=64&format=webp")
    with Image.open(io.BytesIO(variant.content)) as img:
        assert img.format == "WEBP" and img.width <= 64
        expected = {"animated gif": 4, "animated webp": 4, "apng": 3}.get(name, 1)
        assert getattr(img, "n_frames", 1) == expected


def test_one_request_upload_sniffs_heic_and_tiff(pichr_client, pichr_user):
    for maker, mime in ((heic, "image/heic"), (tiff_pages, "image/tiff")):
        r = pichr_client.post(
            "/api/v1/upload?filename=phone", content=maker(), headers=pichr_user["headers"]
        )
        assert r.status == 201 and r.json["mime"] == mime, r.text


def test_photoshop_jpeg_with_markup_in_its_plist_is_still_a_polyglot(pichr_client, pichr_user):
    evil = PLIST.replace(b"<real>734</real>", b"<img src=x onerror=alert(1)>")
    data = with_segments(
        encode(photo(), "JPEG"), app(0xED, b"Photoshop 3.0\x00" + irb(0x0BB7, evil))
    )
    r = pichr_client.post(
        "/api/v1/upload?filename=ps.jpg", content=data, headers=pichr_user["headers"]
    )
    assert r.status == 415 and r.json["code"] == "polyglot", r.text


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_damaged_metadata_is_refused_or_accepted_never_an_error(tmp_path, name):
    import random

    data = SAMPLES[name][0]()
    rng = random.Random(name)
    path = tmp_path / "damaged"
    for _ in range(30):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(min(len(data), 3000))] = rng.randrange(256)
        path.write_bytes(damaged)
        with contextlib.suppress(imaging.ImageRejected):
            if SAMPLES[name][1] == "image/heic":  # as the server does: in a child process
                asyncio.run(isolation.run(imaging.inspect, path, max_pixels=MAX))
            else:
                imaging.inspect(path, max_pixels=MAX)


def test_variants_keep_the_colour_profile(tmp_path):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = tmp_path / "tagged.jpg"
    path.write_bytes(encode(photo(), "JPEG", icc_profile=icc, exif=gps_exif(orientation=6)))
    for fmt in ("jpeg", "webp", "png", "avif"):
        out = imaging.make_variant(path, width=32, height=None, fit="contain", fmt=fmt, quality=80)
        with Image.open(io.BytesIO(out)) as img:
            assert img.info.get("icc_profile") == icc, fmt
            assert img.size == (32, 48), fmt  # orientation 6 applied
            assert not img.getexif(), fmt  # neither turned twice nor located
    # A profile of another colour space than the output's is dropped, not mislabelled.
    grey = tmp_path / "grey.png"
    photo().convert("L").save(grey, icc_profile=icc)  # an RGB profile on grey pixels
    out = imaging.make_variant(grey, width=32, height=None, fit="contain", fmt="png", quality=80)
    with Image.open(io.BytesIO(out)) as img:
        assert img.mode == "L" and "icc_profile" not in img.info


def test_a_decoder_crash_refuses_the_upload_not_the_worker(pichr_client, pichr_user):
    # A HEIC whose XMP item's type is not UTF-8 made pi-heif 1.4 dereference NULL: such
    # files are refused before libheif reads them; and a decoder that dies anyway (here:
    # made to) refuses the upload while the worker goes on serving.
    data = bytearray(heic())
    at = data.index(b"application/rdf+xml")
    data[at + 12] = 0x93
    r = pichr_client.post("/api/v1/upload?filename=x.heic", content=bytes(data),
                          headers=pichr_user["headers"])  # fmt: skip
    assert r.status == 415 and r.json["code"] == "invalid_image", r.text

    async def crash():
        await isolation.run(os.abort)  # the child dies as a segfault would kill it

    with pytest.raises(imaging.ImageRejected):
        pichr_client.run(crash())
    f = pichr_client.upload(pichr_user, heic(), filename="ok.heic", mime="image/heic")
    assert f["status"] == "ready"


@pytest.mark.slow
def test_heic_through_a_real_server_process(tmp_path):
    # `serve` workers are daemonic processes, where multiprocessing refuses children:
    # the HEIC decoder's child must start there all the same, and stop with the worker.
    import httpx

    from pichr_appliance.testing import LiveServer

    server = LiveServer(tmp_path / "data", args=["--workers", "1"]).start()
    try:
        r = httpx.post(f"{server.url}/api/v1/auth/signup", json={
            "email": "h@example.com", "password": "correct horse battery", "username": "heic",
            "firstName": "H", "lastName": "E", "ageConfirmed": True})  # fmt: skip
        headers = {"Authorization": f"Bearer {r.json()['session']['access_token']}"}
        r = httpx.post(f"{server.url}/api/v1/upload?filename=phone", content=heic(),
                       headers=headers, timeout=60)  # fmt: skip
        assert r.status_code == 201 and r.json()["mime"] == "image/heic", server.output()
        assert location_left(httpx.get(f"{server.url}/i/{r.json()['id']}?original=1").content) == []
    finally:
        assert server.stop() == 0, server.output()
    assert "Traceback" not in server.output()


def gif_with_xmp(packet: bytes) -> bytes:
    base = encode(photo((16, 16)), "GIF")
    head_end = 13 + (3 * (2 << (base[10] & 7)) if base[10] & 0x80 else 0)
    trailer = b"\x01" + bytes(range(255, -1, -1))  # the XMP 'magic trailer'
    ext = b"\x21\xff\x0bXMP DataXMP" + packet + trailer + b"\x00"
    return base[:head_end] + ext + base[head_end:]


def png_with_raw_profile_and_compressed_xmp() -> bytes:
    import binascii
    import zlib

    payload = b"Exif\x00\x00" + gps_exif()[6:] if gps_exif().startswith(b"Exif") else gps_exif()
    hexed = binascii.hexlify(payload)
    text = b"\nexif\n" + str(len(payload)).rjust(8).encode() + b"\n" + hexed + b"\n"
    raw = b"Raw profile type exif\x00\x00" + zlib.compress(text)
    xmp = b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + zlib.compress(XMP_GPS)
    base = encode(photo(), "PNG")
    return base[:33] + png_chunk(b"zTXt", raw) + png_chunk(b"iTXt", xmp) + base[33:]


@pytest.mark.parametrize(
    "maker", [lambda: gif_with_xmp(XMP_GPS), png_with_raw_profile_and_compressed_xmp],
    ids=["gif xmp", "png raw profile + compressed xmp"],
)  # fmt: skip
def test_less_common_metadata_homes_lose_their_location(tmp_path, maker):
    import zlib

    data = maker()
    assert any(t in data for t in (CITY, b"Raw profile")), "the sample carries location"
    path = tmp_path / "img"
    path.write_bytes(data)
    info = imaging.inspect(path, max_pixels=MAX)
    assert info.location_stripped
    stored = path.read_bytes()
    assert location_left(stored) == [] and decoded(stored, info.mime) == decoded(data, info.mime)
    if info.mime == "image/png":  # the compressed chunks: inflate and look inside
        with Image.open(path) as img:
            img.load()
            assert CITY not in img.info["XML:com.adobe.xmp"].encode()
            assert b"dc:title" in img.info["XML:com.adobe.xmp"].encode()  # the rest stays
        raw = stored[stored.index(b"Raw profile type exif") + 23 :]
        text = zlib.decompressobj().decompress(raw)
        hexed = b"".join(text.split(b"\n", 3)[3].split())
        exif = Image.Exif()
        exif.load(bytes.fromhex(hexed.decode()))
        assert imaging.GPS_IFD not in exif and exif[0x010F] == "CameraMaker"
    else:  # Pillow does not read GIF XMP: the packet is in the bytes, minus the location
        assert b"dc:title" in stored and b"XMP DataXMP" in stored and len(stored) == len(data)
