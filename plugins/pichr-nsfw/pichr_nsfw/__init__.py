"""pichr-nsfw: an NSFW classifier (Yahoo's Open-NSFW, run by ONNX Runtime on the CPU).

Inert until ``[plugin.nsfw] enabled = true``. Its score becomes the file's
``nsfwScore``, which ``moderation.age_restrict_threshold`` and
``moderation.queue_threshold`` act on.
"""

from __future__ import annotations

from typing import Any

from pichr_appliance import hookimpl

from .classifier import OpenNsfwClassifier, shared_model
from .config import NsfwConfig, nsfw_config

__version__ = "0.1.0"
__all__ = ["NsfwConfig", "OpenNsfwClassifier", "__version__", "nsfw_config", "shared_model"]


@hookimpl
def register_classifiers(settings: Any) -> list[OpenNsfwClassifier]:
    """The Open-NSFW classifier when ``plugin.nsfw.enabled``; nothing otherwise.

    Cheap: the model loads on the first image scored, not here.
    """
    config = nsfw_config(settings)
    if not config.enabled:
        return []
    return [OpenNsfwClassifier(frames=config.frames, threads=config.threads)]


@hookimpl
def startup(runtime: Any) -> None:
    """Check ``[plugin.nsfw]`` when a worker starts, so a typo stops the server at once
    rather than failing the first upload."""
    nsfw_config(runtime.settings)
