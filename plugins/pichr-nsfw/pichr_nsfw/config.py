"""The plugin's settings: ``[plugin.nsfw]`` in the appliance configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pichr_appliance.config import ConfigError

MAX_FRAMES = 10


@dataclass(frozen=True)
class NsfwConfig:
    """Whether the classifier runs, and how much work it does per image."""

    enabled: bool = False
    frames: int = 3  # frames of an animation scored (evenly spaced); the highest counts
    threads: int = 1  # ONNX Runtime threads per inference


def nsfw_config(settings: Any) -> NsfwConfig:
    """The validated ``[plugin.nsfw]`` section; ConfigError names the bad key."""
    section = dict(settings.plugin_config("nsfw"))
    enabled = section.pop("enabled", False)
    frames = section.pop("frames", 3)
    threads = section.pop("threads", 1)
    if section:
        raise ConfigError(f"plugin.nsfw: unknown setting(s) {', '.join(sorted(section))}")
    if not isinstance(enabled, bool):
        raise ConfigError("plugin.nsfw.enabled: must be true or false")
    if not isinstance(frames, int) or isinstance(frames, bool) or not 1 <= frames <= MAX_FRAMES:
        raise ConfigError(f"plugin.nsfw.frames: must be a whole number from 1 to {MAX_FRAMES}")
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ConfigError("plugin.nsfw.threads: must be a whole number of at least 1")
    return NsfwConfig(enabled=enabled, frames=frames, threads=threads)
