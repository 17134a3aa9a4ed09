"""The golden AMI the fleet launches from: built with Packer (staging), promoted, or given.

build:   two pulumi_command local Commands run image/build.py, base layer then app layer, each
         triggered by the content hash of its inputs (components/image/inputs.py).
promote: no build; the AMI staging built from the same inputs is found by its content-hash tag.
ami:     a fixed AMI id, for emergencies and experiments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws
import pulumi_command as command

from components.image.inputs import ROOT, Layer, LayerTarget, content_hash
from contracts import image_tags
from contracts.aws_ids import AMI_ID

ImageMode = Literal["build", "promote", "ami"]

BUILD_SCRIPT = ROOT / "image" / "build.py"
# The build command is an input of the Command, so it must read the same on every machine and in
# every checkout (an absolute path would re-run the build after an `up` from another clone). It
# runs from the project root (the provider's working directory, where Pulumi runs the program):
# the venv `pulumi install` makes there has boto3; python3 is the fallback for a hand-made setup.
BUILD_COMMAND = (
    'py=venv/bin/python; [ -x "$py" ] || py=python3; '
    f'exec "$py" {BUILD_SCRIPT.relative_to(ROOT).as_posix()}'
)
PROJECT_DIR = "."


@dataclass(frozen=True)
class GoldenImageArgs:
    mode: ImageMode
    region: str
    role: str
    """Value of the AMIs' role tag (the app name); builds and promotions find AMIs by it."""
    base_source_ami: str | None = None
    """The stock AMI the base layer starts from; build and promote (same value as staging)."""
    ami_id: str | None = None
    """The fixed AMI of mode `ami`."""
    builder_instance_type: str = "t3.small"
    name_prefix: str = "webtier"
    keep_last: int = 3
    """AMIs per layer build.py keeps (besides those a stack marks in use) for rollback."""
    builder_cidr: str | None = None
    """Address allowed to reach the builder; None: the build host's public address."""
    subnet_id: str | None = None
    promote_owner: str = "self"
    """Account whose AMIs a promotion looks in (staging's, if it is another account)."""


class GoldenImageError(pulumi.RunError):
    """The image cannot be provided as configured; the message says what to change."""


class GoldenImage(pulumi.ComponentResource):
    image_id: pulumi.Output[str]
    """The app layer's AMI: what the fleet launches."""
    content_hash: pulumi.Output[str]
    """Content hash of the app layer's inputs (its AMI's content-hash tag); empty in mode `ami`."""

    def __init__(self, name: str, args: GoldenImageArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("webtier:golden_image:GoldenImage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        if args.mode == "ami":
            assert args.ami_id is not None
            self.image_id = pulumi.Output.from_input(args.ami_id)
            self.content_hash = pulumi.Output.from_input("")
            self.register_outputs({"imageId": self.image_id, "contentHash": self.content_hash})
            return

        assert args.base_source_ami is not None
        base_hash = content_hash(LayerTarget("base", args.region, args.base_source_ami))
        if args.mode == "promote":
            base_ami = _promoted(args, "base", base_hash)
            app_hash = content_hash(LayerTarget("app", args.region, base_ami))
            self.image_id = pulumi.Output.from_input(_promoted(args, "app", app_hash))
            self.content_hash = pulumi.Output.from_input(app_hash)
        else:
            base = _layer_build(f"{name}-base", args, "base", args.base_source_ami, base_hash,
                                child)
            base_ami_id = base.stdout.apply(lambda out: _ami_from(out, "base"))
            app_hash_output = base_ami_id.apply(
                lambda ami: content_hash(LayerTarget("app", args.region, ami)))
            app = _layer_build(f"{name}-app", args, "app", base_ami_id, app_hash_output, child)
            self.image_id = app.stdout.apply(lambda out: _ami_from(out, "app"))
            self.content_hash = app_hash_output

        # Marks the AMI this stack runs so build.py's pruning in any stack leaves it alone;
        # moving to a new AMI replaces the tag, which releases the old AMI for pruning.
        aws.ec2.Tag(f"{name}-in-use", resource_id=self.image_id,
                    key=image_tags.in_use_tag(pulumi.get_stack()), value=pulumi.get_project(),
                    opts=child)
        self.register_outputs({"imageId": self.image_id, "contentHash": self.content_hash})


def _layer_build(name: str, args: GoldenImageArgs, layer: Layer, source_ami: pulumi.Input[str],
                 digest: pulumi.Input[str], opts: pulumi.ResourceOptions) -> command.local.Command:
    environment: dict[str, pulumi.Input[str]] = {
        "WEBTIER_IMAGE_LAYER": layer,
        "WEBTIER_IMAGE_REGION": args.region,
        "WEBTIER_IMAGE_SOURCE_AMI": source_ami,
        "WEBTIER_IMAGE_CONTENT_HASH": digest,
        "WEBTIER_IMAGE_INSTANCE_TYPE": args.builder_instance_type,
        "WEBTIER_IMAGE_NAME_PREFIX": args.name_prefix,
        "WEBTIER_IMAGE_ROLE": args.role,
        "WEBTIER_IMAGE_KEEP_LAST": str(args.keep_last),
    }
    if args.builder_cidr:
        environment["WEBTIER_IMAGE_BUILDER_CIDR"] = args.builder_cidr
    if args.subnet_id:
        environment["WEBTIER_IMAGE_SUBNET_ID"] = args.subnet_id
    return command.local.Command(
        name,
        # build.py reads everything else from the environment.
        create=BUILD_COMMAND,
        dir=PROJECT_DIR,
        environment=environment,
        # Only the inputs' content hash rebuilds. Any other input change reruns create, and
        # build.py answers from the AMI already tagged with the hash, without building.
        triggers=[digest],
        # No `delete`: removing or replacing the resource keeps its AMI for rollback; build.py
        # prunes each layer to the newest keep_last AMIs that no stack marks in use.
        opts=opts,
    )


def _promoted(args: GoldenImageArgs, layer: Layer, digest: str) -> str:
    """The AMI another stack (staging) built for exactly these inputs."""
    try:
        found = aws.ec2.get_ami(
            owners=[args.promote_owner], most_recent=True,
            filters=[
                aws.ec2.GetAmiFilterArgs(name=f"tag:{key}", values=[value])
                for key, value in ((image_tags.ROLE_TAG, args.role),
                                   (image_tags.LAYER_TAG, layer),
                                   (image_tags.CONTENT_HASH_TAG, digest))
            ] + [aws.ec2.GetAmiFilterArgs(name="state", values=["available"])],
        )
    except Exception as err:  # the provider reports "no results" as a failed invoke
        raise GoldenImageError(
            f"image.source is 'promote' but no {layer} AMI with role={args.role} and "
            f"content-hash={digest} is owned by {args.promote_owner} in {args.region}. "
            "Promotion never builds: update the stack that builds (staging) first, and give "
            "image.baseSourceAmi the same value there and here. "
            f"(lookup said: {err})") from err
    return str(found.id)


def _ami_from(stdout: str | None, layer: Layer) -> str:
    ami = (stdout or "").strip()
    if not AMI_ID.matches(ami):
        raise GoldenImageError(f"image/build.py printed {ami!r} for the {layer} layer instead "
                               "of an AMI id; see its stderr above")
    return ami


