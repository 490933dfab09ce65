"""Variant storms (issue 15) through a real ``serve --workers 1``: the variants of a file
are few, making them is bounded (503 with Retry-After, never 500 or a hang), a new
variant costs a rate-limited call and a cached one does not, memory comes back."""

from __future__ import annotations

import io
import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image

from pichr_appliance.testing import LiveServer

SIZES = "[64, 128, 256]"
# (sizes + 1) contain shapes + sizes * 3 cover ratios, times 4 formats (docs/formats.md).
MAX_VARIANTS = (3 + 1 + 3 * 3) * 4


def photo(width: int = 1200, height: int = 900) -> bytes:
    """A JPEG that does not compress well (its decode is real work)."""
    buf = io.BytesIO()
    Image.effect_noise((width, height), 60).convert("RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


def start(tmp_path: Path, **env: str) -> LiveServer:
    data = tmp_path / "data"
    base = {
        # SQLite whatever PICHR_TEST_DATABASE says: one throwaway server per test.
        "PICHR_DATABASE__URL": "sqlite://" + str(data.resolve() / "pichr.sqlite3"),
        "PICHR_IMAGES__VARIANT_SIZES": SIZES,
    }
    return LiveServer(data, env={**base, **env}, args=["--workers", "1"]).start(timeout=60)


def upload(server: LiveServer, data: bytes | None = None) -> str:
    body = {"email": "s@example.com", "username": "stormer", "password": "a long password"}
    r = httpx.post(server.url + "/api/v1/auth/signup", json=body)
    assert r.status_code == 201, r.text
    auth = {"Authorization": "Bearer " + r.json()["session"]["access_token"]}
    data = data or photo()
    p = httpx.post(
        server.url + "/api/v1/upload/presign",
        headers=auth,
        json={"filename": "p.jpg", "mime": "image/jpeg", "bytes": len(data)},
    ).json()
    assert httpx.put(p["uploadUrl"], content=data, timeout=60).status_code == 200
    return p["fileId"]


def variant_files(server: LiveServer, file_id: str) -> list[Path]:
    return [p for p in server.data_dir.rglob(f"variants/{file_id}/*") if p.is_file()]


def storm_queries(n: int) -> list[str]:
    """``n`` distinct (w, h, fit, format) combinations."""
    combos = itertools.product(
        range(1, 400, 7), range(1, 400, 11), ("cover", "contain"), ("webp", "png", "avif", "jpeg")
    )
    return [f"w={w}&h={h}&fit={fit}&format={fmt}" for w, h, fit, fmt in itertools.islice(combos, n)]


def worker_rss_kb(server: LiveServer) -> int:
    """VmRSS of the worker process (the biggest child of the server's main process)."""
    children = []
    for task in Path(f"/proc/{server.proc.pid}/task").iterdir():
        children += (task / "children").read_text().split()
    best = 0
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                best = max(best, int(line.split()[1]))
    return best


@pytest.mark.timeout(300)
def test_a_storm_of_distinct_params_makes_a_bounded_number_of_variants(tmp_path):
    server = start(tmp_path, PICHR_IMAGES__VARIANT_WORKERS="2", PICHR_IMAGES__VARIANT_QUEUE="64")
    try:
        file_id = upload(server)
        url = f"{server.url}/i/{file_id}"
        before = worker_rss_kb(server)

        def get(query: str) -> int:
            return httpx.get(f"{url}?{query}", timeout=120).status_code

        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(get, storm_queries(300)))
        after = worker_rss_kb(server)
    finally:
        server.stop()
    assert set(statuses) == {200}, statuses
    made = variant_files(server, file_id)
    assert 0 < len(made) <= MAX_VARIANTS, len(made)
    # Memory comes back (malloc_trim when idle): generous, decoding is ~3 MB here.
    assert after <= before + 100 * 1024, (before, after)


@pytest.mark.timeout(300)
def test_concurrent_new_variants_beyond_the_queue_get_503_with_retry_after(tmp_path):
    # Big variants of a big photo: each takes a while (draft mode cannot shrink the
    # decode much), so that 16 clients outrun one slot.
    server = start(
        tmp_path,
        PICHR_IMAGES__VARIANT_WORKERS="1",
        PICHR_IMAGES__VARIANT_QUEUE="1",
        PICHR_IMAGES__VARIANT_SIZES="[1000, 1500, 2000, 2500, 3000]",
    )
    try:
        file_id = upload(server, photo(3000, 2250))
        url = f"{server.url}/i/{file_id}"

        def get(query: str) -> httpx.Response:
            return httpx.get(f"{url}?{query}", timeout=120)

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(get, storm_queries(64)))
    finally:
        server.stop()
    statuses = {r.status_code for r in answers}
    assert statuses <= {200, 503}, statuses
    busy = [r for r in answers if r.status_code == 503]
    assert busy, "16 clients against one slot and a queue of one: some must be refused"
    for r in busy:
        assert r.headers["Retry-After"].isdigit()
        assert r.json()["code"] == "overloaded"


@pytest.mark.timeout(300)
def test_a_new_variant_costs_a_call_and_a_cached_one_does_not(tmp_path):
    # Four anonymous calls from this address: the signup, then three new variants.
    server = start(tmp_path, PICHR_PLANS__ANONYMOUS__REQUESTS_PER_HOUR="4")
    try:
        file_id = upload(server)
        url = f"{server.url}/i/{file_id}"
        made = [httpx.get(f"{url}?w={w}", timeout=60).status_code for w in (64, 128, 256)]
        # Over the limit now: a new variant is refused, the ones made are still served.
        refused = httpx.get(f"{url}?w=64&h=64&fit=cover", timeout=60)
        cached = [httpx.get(f"{url}?w={w}", timeout=60).status_code for w in (60, 128, 256)]
        original = httpx.get(url, timeout=60).status_code
    finally:
        server.stop()
    assert made == [200, 200, 200]
    assert refused.status_code == 429 and refused.headers["Retry-After"].isdigit()
    assert cached == [200, 200, 200] and original == 200


@pytest.mark.timeout(300)
def test_the_disk_budget_evicts_the_least_recently_used_and_it_is_made_again(tmp_path):
    # A budget of one byte: each new variant evicts every variant not used within the
    # touch interval (one second here); the sweeper is kept out of the way.
    server = start(
        tmp_path,
        PICHR_IMAGES__VARIANT_CACHE_MAX_BYTES="1",
        PICHR_IMAGES__VARIANT_TOUCH_SECONDS="1",
        PICHR_UPLOADS__SWEEP_INTERVAL="3600",
    )
    try:
        file_id = upload(server)
        url = f"{server.url}/i/{file_id}"

        def names() -> set[str]:
            return {p.name for p in variant_files(server, file_id)}

        assert httpx.get(f"{url}?w=64&format=webp", timeout=60).status_code == 200
        assert httpx.get(f"{url}?w=128&format=webp", timeout=60).status_code == 200
        time.sleep(1.5)
        assert httpx.get(f"{url}?w=64&format=webp", timeout=60).status_code == 200  # used
        assert names() == {"64x0-contain.webp", "128x0-contain.webp"}
        assert httpx.get(f"{url}?w=256&format=webp", timeout=60).status_code == 200
        after_new = names()
        again = httpx.get(f"{url}?w=128&format=webp", timeout=60)
        remade = names()
    finally:
        server.stop()
    assert after_new == {"64x0-contain.webp", "256x0-contain.webp"}
    assert again.status_code == 200 and again.headers["content-type"] == "image/webp"
    assert "128x0-contain.webp" in remade
