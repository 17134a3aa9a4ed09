"""webtier:release: the release bucket and who may publish to it."""

from __future__ import annotations

from dataclasses import dataclass

from components.settings.reader import ConfigObject
from contracts.aws_ids import BUCKET_NAME, IAM_ROLE_ARN


@dataclass(frozen=True)
class ReleaseSettings:
    bucket_name: str | None
    keep_releases: int
    deployer_role_arns: tuple[str, ...]


def parse_release(obj: ConfigObject) -> ReleaseSettings:
    bucket = obj.opt_text("bucketName", BUCKET_NAME)
    roles: list[str] = []
    given = obj.items("deployerRoleArns")
    for i, arn in enumerate(given):
        if IAM_ROLE_ARN.matches(arn):
            roles.append(arn)
        else:
            obj.problems.add(f"{obj.key}.deployerRoleArns[{i}]", arn, IAM_ROLE_ARN.allowed)
    if not given:
        # An empty list would leave a bucket nobody may write to.
        obj.problems.note(f"{obj.key}.deployerRoleArns is missing: name the IAM role(s) allowed to "
                          "upload releases (e.g. the CI deploy role); nobody else may write")
    settings = ReleaseSettings(bucket, obj.integer("keepReleases", 5, 1, 100), tuple(roles))
    obj.done()
    return settings
