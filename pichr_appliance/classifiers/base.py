"""The classifier contract: what ``register_classifiers`` returns."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar


class ImageClassifier:
    """Scores an image for NSFW content: 0.0 (safe) to 1.0 (explicit).

    Subclasses set ``name`` and implement ``score``. A plain ``def score`` runs in a
    worker thread (inference never blocks the event loop; several uploads may call it
    at once, so it must be thread-safe); an ``async def score`` is awaited on the loop.
    The appliance keeps the highest score of all classifiers as ``nsfwScore``, and
    ``moderation.age_restrict_threshold`` / ``queue_threshold`` act on it. Objects are
    made once per process (load models in ``__init__`` or lazily).
    """

    name: ClassVar[str] = ""

    def score(self, path: Path) -> float:
        """The score of the image file at ``path`` (any accepted type, animated too)."""
        raise NotImplementedError
