"""What each event says: the JSON documents receivers get under ``data``.

Built from the models alone (no storage, no request), so that events fired by CLI
commands, where there is no app, are described the same way.
"""

from __future__ import annotations

from typing import Any

from pichr_appliance.services.accounts import user_json
from pichr_appliance.services.albums import album_url
from pichr_appliance.services.files import file_url
from pichr_appliance.services.moderation import report_json
from pichr_appliance.timeutil import iso


def file_data(settings: Any, file: Any) -> dict[str, Any]:
    """A File, as the API names its fields (a subset: no counters, no album ids)."""
    return {
        "id": file.id,
        "url": file_url(settings, file),
        "filename": file.filename,
        "mime": file.mime,
        "bytes": file.bytes,
        "width": file.width,
        "height": file.height,
        "visibility": file.visibility,
        "status": file.status,
        "nsfwScore": file.nsfw_score,
        "ageRestricted": file.age_restricted,
        "sha256": file.sha256,
        "ownerId": file.owner_id,
        "createdAt": iso(file.created_at),
    }


def album_data(settings: Any, album: Any) -> dict[str, Any]:
    """An Album (without its file count)."""
    return {
        "id": album.id,
        "title": album.title,
        "description": album.description,
        "visibility": album.visibility,
        "ownerId": album.owner_id,
        "createdAt": iso(album.created_at),
        "url": album_url(settings, album),
    }


def actor_data(actor: Any) -> dict[str, Any] | None:
    """Who acted: a ``User`` or a moderation operator (``id`` + ``label``), or None."""
    if actor is None:
        return None
    label = getattr(actor, "label", None) or getattr(actor, "username", None)
    return {"id": getattr(actor, "id", None), "label": label}


def event_data(settings: Any, event: str, **kw: Any) -> dict[str, Any]:
    """The ``data`` of ``event`` from the hook's arguments."""
    if event == "file_uploaded":
        return {"file": file_data(settings, kw["file"])}
    if event == "file_deleted":
        return {"file": file_data(settings, kw["file"]), "actor": actor_data(kw.get("actor"))}
    if event == "file_moderated":
        return {
            "file": file_data(settings, kw["file"]),
            "action": kw["action"],
            "actor": actor_data(kw.get("actor")),
        }
    if event == "report_created":
        return {"report": report_json(kw["report"])}
    if event == "user_created":
        return {"user": user_json(kw["user"])}
    if event == "album_created":
        return {"album": album_data(settings, kw["album"])}
    raise ValueError(f"unknown event {event}")
