"""The web interface's shipped JavaScript and CSS stay small and self-contained."""

from __future__ import annotations

import gzip
import re

from pichr_appliance.web.assets import STATIC

BUDGET = 100_000  # gzipped bytes, every asset compressed on its own as a server would


def test_the_assets_fit_the_budget():
    total = sum(len(gzip.compress(p.read_bytes(), 9)) for p in STATIC.rglob("*") if p.is_file())
    assert total < BUDGET, f"{total} gzipped bytes of assets (budget {BUDGET})"


def test_no_asset_loads_anything_from_another_site_or_builds_html_from_strings():
    for path in STATIC.rglob("*"):
        if path.suffix not in (".js", ".css"):
            continue
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"""(import|from|url\()\s*['"(]?\s*https?://""", text), path
        if path.suffix == ".js":
            # User text reaches the page only as text (ui.js h()); see docs/web.md.
            assert not re.search(
                r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|\beval\(", text
            ), path
