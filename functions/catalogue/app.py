"""GET /v1/formats, /v1/operations, /v1/presets: the catalogues, public (they hold no tenant data)."""

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import api
from imagejobs.observability import logger, tracer
from imagejobs.spec import catalogue

router = Router()


@router.get(
    "/formats",
    operation_id="listFormats",
    tags=["Catalogue"],
    responses=api.responses(200, "The catalogue"),
    summary="The formats read and written, and their options",
    description=catalogue.PUBLIC,
)
def formats() -> catalogue.FormatCatalogue:
    return catalogue.format_catalogue()


@router.get(
    "/operations",
    operation_id="listOperations",
    tags=["Catalogue"],
    responses=api.responses(200, "The catalogue"),
    summary="The operations, each with its JSON schema",
    description=catalogue.PUBLIC,
)
def operations() -> catalogue.OperationCatalogue:
    return catalogue.operation_catalogue()


@router.get(
    "/presets",
    operation_id="listPresets",
    tags=["Catalogue"],
    responses=api.responses(200, "The catalogue"),
    summary="The presets, with the outputs they stand for",
    description=catalogue.PUBLIC,
)
def presets() -> catalogue.PresetCatalogue:
    return catalogue.preset_catalogue()


app = api.resolver(router)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
