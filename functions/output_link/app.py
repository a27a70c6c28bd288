"""GET /v1/o/{token}: an output's stable link, public, answered with a redirect to a fresh download
for as long as its job exists (every refusal is the same 404)."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import api
from imagejobs.observability import logger, tracer
from imagejobs.services import links

router = Router()


@router.get(
    "/o/<token>",
    operation_id="followLink",
    tags=["Links"],
    summary="An output's stable link: a redirect to a fresh download, without a key, while the job exists",
    description="Public: the token (from an output's `link`) is the permission. Answers 302 to a presigned "
    f"download that lives {links.REDIRECT_SECONDS // 60} minutes, cacheable for "
    f"{links.MAX_KEEP_SECONDS // 60} minutes at most. An unknown, altered or ended token and a deleted or "
    "expired job are the same 404.",
    responses=api.responses(302, "To a fresh download of the output (`Location`)", 404),
)
def follow_link(token: str) -> Response[None]:
    redirect = links.follow(token)
    return Response(
        status_code=302,
        headers={"Location": redirect.location, "Cache-Control": f"public, max-age={redirect.keep_seconds}"},
    )


app = api.resolver(router)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
