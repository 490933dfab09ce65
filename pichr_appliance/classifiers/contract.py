"""A pytest suite every classifier plugin runs against itself.

Subclass it in your plugin's tests and provide a ``classifier`` fixture::

    from pichr_appliance.classifiers.contract import ClassifierContract

    class TestMyClassifier(ClassifierContract):
        @pytest.fixture
        def classifier(self):
            return MyClassifier()
"""

from __future__ import annotations

import asyncio
import inspect
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ..testing import sample_image_bytes


def _score(classifier, path: Path) -> float:
    result = classifier.score(path)
    if inspect.isawaitable(result):
        result = asyncio.run(result)
    return float(result)


def _animated_gif() -> bytes:
    from PIL import Image

    frames = [Image.new("RGB", (48, 32), c) for c in ("red", "green", "blue")]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=50)
    return buf.getvalue()


class ClassifierContract:
    """Behaviour the core relies on; ``classifier`` is a fixture the subclass provides."""

    @pytest.fixture
    def images(self, tmp_path) -> dict[str, Path]:
        """Small images of every accepted type, and a large one."""
        out = {}
        for fmt in ("PNG", "JPEG", "WEBP", "GIF"):
            path = tmp_path / f"img.{fmt.lower()}"
            path.write_bytes(sample_image_bytes(fmt, (96, 64)))
            out[fmt] = path
        out["animated"] = tmp_path / "anim.gif"
        out["animated"].write_bytes(_animated_gif())
        out["tiny"] = tmp_path / "tiny.png"
        out["tiny"].write_bytes(sample_image_bytes("PNG", (1, 1)))
        out["large"] = tmp_path / "large.jpg"
        out["large"].write_bytes(sample_image_bytes("JPEG", (3000, 2000)))
        return out

    def test_has_a_name(self, classifier):
        assert isinstance(classifier.name, str) and classifier.name

    def test_scores_every_type_within_0_and_1(self, classifier, images):
        for name, path in images.items():
            score = _score(classifier, path)
            assert 0.0 <= score <= 1.0, (name, score)

    def test_scores_are_deterministic(self, classifier, images):
        first = [_score(classifier, p) for p in images.values()]
        again = [_score(classifier, p) for p in images.values()]
        assert first == again

    def test_concurrent_calls_agree_with_serial_ones(self, classifier, images):
        paths = list(images.values()) * 2
        serial = [_score(classifier, p) for p in paths]
        if inspect.iscoroutinefunction(classifier.score):

            async def together():
                return await asyncio.gather(*(classifier.score(p) for p in paths))

            parallel = [float(s) for s in asyncio.run(together())]
        else:  # how the core calls a plain ``score``: from several worker threads
            with ThreadPoolExecutor(4) as pool:
                parallel = list(pool.map(lambda p: _score(classifier, p), paths))
        assert parallel == serial
