"""An AWS error as one line that says what happened and what to do: for the rollout gate, whose
failures end a `pulumi up` and must never arrive as a botocore traceback."""

from __future__ import annotations

EXPIRED = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
THROTTLED = frozenset({"Throttling", "ThrottlingException", "RequestLimitExceeded",
                       "TooManyRequestsException"})
DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


def cause(err: Exception, group: str, doing: str) -> str:
    """`doing` says what the gate was at, e.g. "starting an instance refresh"."""
    from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", ""))
        if code == "ValidationError" and "not found" in message:
            return (f"Auto Scaling group {group} no longer exists (deleted outside Pulumi?) "
                    f"while {doing}: run `pulumi refresh`, then `pulumi up`")
        if code in EXPIRED:
            return (f"the AWS session expired ({code}) while {doing} on {group}: renew the "
                    "credentials (in CI, the role's session length) and run `pulumi up` again; "
                    "a refresh already started keeps running and the next `up` resumes it")
        if code in THROTTLED:
            return (f"AWS throttled the calls ({code}) while {doing} on {group}: raise "
                    "webtier:rollout.pollInterval or retry `pulumi up` later")
        if code in DENIED:
            return (f"the deployer may not do this ({code}) while {doing} on {group}: "
                    f"{message.splitlines()[0] if message else 'no detail'}")
        first = message.splitlines()[0] if message else "no message"
        return f"AWS refused {doing} on {group} ({code}): {first}"
    if isinstance(err, ParamValidationError):
        detail = " ".join(str(err).split())
        return f"the gate built a request AWS's API refuses while {doing} on {group}: {detail}"
    if isinstance(err, BotoCoreError):
        return f"cannot reach AWS while {doing} on {group}: {str(err).splitlines()[0]}"
    raise err
