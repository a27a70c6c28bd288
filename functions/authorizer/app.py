"""The API's Lambda authorizer (REQUEST): the caller's key (X-API-Key or Authorization: Bearer),
or its absence where anonymous use is on, to a tenant, tier and key id for the handlers, and to the
usage-plan key API Gateway meters the request by.

The event and the policy are read and written here, not with Powertools' data classes: importing
any of them imports all of them (its package imports every event's), 30-45 ms of a cold start."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import snapstart
from imagejobs.errors import AuthenticationError
from imagejobs.observability import logger
from imagejobs.services import auth

snapstart.register()


class UnauthorizedError(Exception):
    """API Gateway answers 401 (its UNAUTHORIZED response) when an authorizer raises "Unauthorized"."""


def every_route(method_arn: str) -> str:
    """`arn:aws:execute-api:<region>:<account>:<api>/<stage>/<method>/<path>` -> the same API and stage,
    every method and path: the policy is cached by key, not by route."""
    *account, route = method_arn.split(":", 5)
    api_id, stage = route.split("/")[:2]
    return f"{':'.join(account)}:{api_id}/{stage}/*/*"


@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> dict[str, Any]:
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    try:
        caller = auth.authorize(headers.get("x-api-key"), headers.get("authorization"))
    except AuthenticationError as error:
        logger.info("refused", extra={"reason": error.message})
        raise UnauthorizedError("Unauthorized") from error
    statement = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [every_route(event["methodArn"])]}
    policy: dict[str, Any] = {
        "principalId": caller.tenant_id,
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
    }
    if caller.usage_key:
        policy["usageIdentifierKey"] = caller.usage_key
    policy["context"] = {"tenant_id": caller.tenant_id, "tier": caller.tier, "key_id": caller.key_id}
    return policy
