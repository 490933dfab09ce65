"""``/integrations``: uploader-tool configuration files (free-form JSON of the tool)."""

from __future__ import annotations

from pydantic import ConfigDict

from .common import Out


class SharexConfig(Out):
    """A ShareX ``.sxcu`` custom uploader: ShareX's own format, so left open."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"type": "object"})
