"""How long one `pulumi up` in CI may take, and what has to outlast it.

The up job's AWS session (GitHub OIDC through aws-actions/configure-aws-credentials, whose
role-duration-seconds defaults to 3600, capped by the role's MaxSessionDuration that bootstrap
sets) must last the whole up: image build, the rollout gate's wait, and the rest. The job's own
timeout must be longer still, so an expiring session fails the up with a one-line cause and the
state lock is released, rather than the runner being killed holding it. A gate that times out
leaves its refresh running; the next up resumes it (components/fleet/rollout_gate.py).
"""

from __future__ import annotations

SESSION_SECONDS = 3600
"""configure-aws-credentials' default role-duration-seconds for an OIDC role."""
IMAGE_BUILD_SECONDS = 1800
"""A Packer build of the base and app layers, for a stack whose webtier:image.source builds."""
MARGIN_SECONDS = 600
"""Set-up, preview, KV writes and every other resource of the up."""
JOB_OVER_SESSION_SECONDS = 600
"""How much longer the job may run than the session: time to fail cleanly and unlock."""


def up_seconds(*, builds_image: bool, gate_timeout: int) -> int:
    """The longest an up of a stack with these settings may take."""
    return (IMAGE_BUILD_SECONDS if builds_image else 0) + gate_timeout + MARGIN_SECONDS
