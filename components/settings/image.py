"""webtier:image: where the fleet's AMI comes from (built, promoted, or named)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from components.settings.reader import ConfigObject
from contracts.aws_ids import AMI_ID, INSTANCE_TYPE
from contracts.names import APP_NAME

ImageSource = Literal["build", "promote", "ami"]


@dataclass(frozen=True)
class ImageSettings:
    source: ImageSource
    ami_id: str | None
    base_source_ami: str | None
    builder_instance_type: str
    name_prefix: str
    keep_last: int


def parse_image(obj: ConfigObject, app: str) -> ImageSettings:
    source: ImageSource = obj.choice("source", "build", ImageSource)
    ami = obj.opt_text("amiId", AMI_ID)
    base = obj.opt_text("baseSourceAmi", AMI_ID)
    if source == "ami" and ami is None:
        obj.problems.note(f"{obj.key}.amiId is missing: image.source 'ami' needs an AMI id")
    if source in ("build", "promote") and base is None:
        obj.problems.note(
            f"{obj.key}.baseSourceAmi is missing: image.source '{source}' needs the AMI the base "
            "layer starts from (a promoting stack names the same one as the building stack, so "
            "it finds the AMI built from the same inputs)")
    settings = ImageSettings(
        source=source,
        ami_id=ami,
        base_source_ami=base,
        builder_instance_type=obj.text("builderInstanceType", "t3.small", INSTANCE_TYPE),
        name_prefix=obj.text("namePrefix", app, APP_NAME, "lowercase letters, digits and dashes"),
        keep_last=obj.integer("keepLast", 3, 1, 50),
    )
    obj.done()
    return settings
