"""pichr-nsfw: the classifier contract, real model scores, and the upload pipeline."""

from pathlib import Path

import pytest
from pichr_nsfw import OpenNsfwClassifier, nsfw_config, shared_model
from pichr_nsfw.classifier import frame_indices
from PIL import Image

from pichr_appliance.classifiers.contract import ClassifierContract
from pichr_appliance.config import ConfigError
from pichr_appliance.models import Report
from pichr_appliance.plugins import describe_runtime, get_plugin_manager, plugin_names
from pichr_appliance.runtime import build_runtime
from pichr_appliance.testing import make_settings

SKIN = (224, 172, 140)  # a plain skin tone: the model's score is about 0.21
WHITE = (255, 255, 255)  # about 0.014


@pytest.fixture(scope="module")
def model():
    """The ONNX session, loaded once for the module (and cached for the process)."""
    return shared_model(1)


@pytest.fixture(scope="module")
def nsfw(model):
    return OpenNsfwClassifier()


def write(path: Path, color, size=(320, 240), fmt="PNG", mode="RGB") -> Path:
    Image.new(mode, size, color).save(path, format=fmt)
    return path


def animation(path: Path, colors) -> Path:
    frames = [Image.new("RGB", (160, 120), c) for c in colors]
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:], duration=80)
    return path


class TestOpenNsfwMeetsTheClassifierContract(ClassifierContract):
    @pytest.fixture
    def classifier(self, nsfw):
        return nsfw


def test_real_model_scores_generated_images(nsfw, tmp_path):
    white = nsfw.score(write(tmp_path / "white.png", WHITE))
    skin = nsfw.score(write(tmp_path / "skin.png", SKIN))
    assert white < 0.05
    assert 0.1 < skin < 0.5
    # The same bytes in another container score (nearly) alike: the model sees pixels.
    skin_jpeg = nsfw.score(write(tmp_path / "skin.jpg", SKIN, fmt="JPEG"))
    assert abs(skin_jpeg - skin) < 0.05
    assert nsfw.score(tmp_path / "skin.png") == skin


def test_transparent_pixels_are_scored_on_white(nsfw, tmp_path):
    hidden = tmp_path / "hidden.png"
    Image.new("RGBA", (320, 240), (*SKIN, 0)).save(hidden)
    white = nsfw.score(write(tmp_path / "white.png", WHITE))
    assert nsfw.score(hidden) == pytest.approx(white, abs=0.005)


def test_animation_scores_its_worst_sampled_frame(tmp_path):
    anim = animation(tmp_path / "anim.gif", [WHITE, WHITE, WHITE, SKIN])
    skin_only = OpenNsfwClassifier().score(animation(tmp_path / "skin.gif", [SKIN]))
    white_only = OpenNsfwClassifier().score(animation(tmp_path / "white.gif", [WHITE]))
    assert OpenNsfwClassifier(frames=3).score(anim) == pytest.approx(skin_only)
    assert OpenNsfwClassifier(frames=1).score(anim) == pytest.approx(white_only)


def test_frame_indices_are_spread_and_keep_both_ends():
    assert frame_indices(1, 3) == [0]
    assert frame_indices(100, 1) == [0]
    assert frame_indices(2, 3) == [0, 1]
    assert frame_indices(4, 3) == [0, 2, 3]
    assert frame_indices(100, 5) == [0, 25, 50, 74, 99]


def test_inert_until_enabled(tmp_path):
    off = make_settings(tmp_path / "off")
    assert "pichr_nsfw" in plugin_names(get_plugin_manager(off))  # installed...
    assert describe_runtime(build_runtime(off))["active"]["classifiers"] == []  # ...idle
    on = make_settings(tmp_path / "on", {"plugin": {"nsfw": {"enabled": True}}})
    assert describe_runtime(build_runtime(on))["active"]["classifiers"] == ["open-nsfw"]


@pytest.mark.parametrize(
    "section, key",
    [
        ({"enabled": "yes"}, "plugin.nsfw.enabled"),
        ({"enabled": True, "frames": 0}, "plugin.nsfw.frames"),
        ({"enabled": True, "threads": 0}, "plugin.nsfw.threads"),
        ({"enabled": True, "treshold": 0.5}, "treshold"),
    ],
)
def test_bad_settings_name_the_key(tmp_path, section, key):
    with pytest.raises(ConfigError, match=key):
        nsfw_config(make_settings(tmp_path / "d", {"plugin": {"nsfw": section}}))


@pytest.fixture
def pichr_overrides():
    # Thresholds lowered below a plain skin tone's score, above a white image's.
    return {
        "plugin": {"nsfw": {"enabled": True}},
        "moderation": {"age_restrict_threshold": 0.1, "queue_threshold": 0.15},
    }


def png(color) -> bytes:
    import io

    buf = io.BytesIO()
    Image.new("RGB", (320, 240), color).save(buf, format="PNG")
    return buf.getvalue()


def test_upload_gets_a_score_and_moderation_acts_on_it(model, pichr_client, pichr_user):
    skin = pichr_client.upload(pichr_user, png(SKIN))
    white = pichr_client.upload(pichr_user, png(WHITE))
    assert 0.1 < skin["nsfwScore"] < 0.5 and skin["ageRestricted"] is True
    assert white["nsfwScore"] < 0.05 and white["ageRestricted"] is False
    reports = pichr_client.run(Report.filter(system=True).values("target_id", "reason"))
    assert reports == [{"target_id": skin["id"], "reason": "nsfw"}]
