"""``?download=1``: the saved file's name cannot choose what the file is.

The extension follows the type sniffed from the bytes (``cat.html`` stored as PNG
saves as ``cat.png``); the name is NFKC-normalised (full-width ``ｆｕｌｌ．ｈｔｍｌ`` is
``full.html`` first) and stripped of format characters (an RTL override would show
``evil\\u202egnp.exe`` as ``evilexe.png``). Non-ASCII names travel in RFC 5987
``filename*`` next to an ASCII ``filename``.
"""

from urllib.parse import unquote

import pytest

from pichr_appliance.testing import sample_image_bytes

FULL_WIDTH = "\uff46\uff55\uff4c\uff4c\uff0e\uff48\uff54\uff4d\uff4c"  # ｆｕｌｌ．ｈｔｍｌ


def disposition(pichr_client, user, filename, data=None, query=""):
    f = pichr_client.upload(user, data, filename=filename)
    r = pichr_client.get(f"/i/{f['id']}?download=1{query}")
    assert r.status == 200, r.text
    return r.headers["content-disposition"]


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("cat.html", 'attachment; filename="cat.png"'),
        ("x.svg", 'attachment; filename="x.png"'),
        ("evil\u202egnp.exe", 'attachment; filename="evilgnp.png"'),
        (FULL_WIDTH, 'attachment; filename="full.png"'),
        ("noextension", 'attachment; filename="noextension.png"'),
        ("pic.png", 'attachment; filename="pic.png"'),
        ("a\u200b.b\u2066.html", 'attachment; filename="a.b.png"'),
    ],
)
def test_download_extension_follows_the_sniffed_type(pichr_client, pichr_user, stored, expected):
    assert disposition(pichr_client, pichr_user, stored) == expected


def test_download_names_of_other_types_and_variants(pichr_client, pichr_user):
    jpeg = sample_image_bytes("JPEG")
    f = pichr_client.upload(pichr_user, jpeg, filename="photo.html", mime="image/jpeg")
    r = pichr_client.get(f"/i/{f['id']}?download=1")
    assert r.headers["content-disposition"] == 'attachment; filename="photo.jpg"'
    r = pichr_client.get(f"/i/{f['id']}?download=1&w=32&format=webp")
    assert r.headers["content-type"] == "image/webp"
    assert r.headers["content-disposition"] == 'attachment; filename="photo.webp"'


def test_non_ascii_names_use_rfc5987(pichr_client, pichr_user):
    value = disposition(pichr_client, pichr_user, 'chat "été"\u202e.html')
    plain, _, extended = value.partition("; filename*=")
    assert plain == 'attachment; filename="chat-ete.png"', value
    assert extended.startswith("UTF-8''"), value
    encoded = extended[len("UTF-8''") :]
    assert all(c.isascii() and c not in " \"';,\\" for c in encoded), encoded
    assert unquote(encoded) == 'chat "été".png'
