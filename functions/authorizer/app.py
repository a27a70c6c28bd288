"""The API's Lambda authorizer (REQUEST): the caller's key (X-API-Key or Authorization: Bearer),
or its absence where anonymous use is on, to a tenant, tier and key id for the handlers, and to the
usage-plan key API Gateway meters the request by."""

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs.errors import AuthenticationError
from imagejobs.observability import logger
from imagejobs.services import auth


class UnauthorizedError(Exception):
    """API Gateway answers 401 (its UNAUTHORIZED response) when an authorizer raises "Unauthorized"."""


@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> dict:
    request = APIGatewayAuthorizerRequestEvent(event)
    try:
        caller = auth.authorize(request.headers.get("x-api-key"), request.headers.get("authorization"))
    except AuthenticationError as error:
        logger.info("refused", extra={"reason": error.message})
        raise UnauthorizedError("Unauthorized") from error
    arn = request.parsed_arn
    policy = APIGatewayAuthorizerResponse(
        principal_id=caller.tenant_id,
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        context={"tenant_id": caller.tenant_id, "tier": caller.tier, "key_id": caller.key_id},
        usage_identifier_key=caller.usage_key,
    )
    policy.allow_all_routes()
    return policy.asdict()
