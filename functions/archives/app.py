"""POST and GET /v1/jobs/{id}/archive and /v1/batches/{id}/archive: a ZIP of the outputs, built in S3."""

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import api
from imagejobs.observability import logger, tracer
from imagejobs.services import archives
from imagejobs.spec.archives import ArchiveDocument

router = Router()


@router.post(
    "/jobs/<job_id>/archive",
    operation_id="archiveJob",
    tags=["Archives"],
    status_code=202,
    summary="Ask for a ZIP of a succeeded job's outputs",
    security=api.KEYED,
    responses=api.responses(202, "The archive: requested, or as it is when asked for before", 401, 404, 409, 429),
)
def archive_job(caller: api.KeyedCaller, job_id: str) -> ArchiveDocument:
    return archives.request_job_archive(caller.tenant_id, job_id)


@router.get(
    "/jobs/<job_id>/archive",
    operation_id="getJobArchive",
    tags=["Archives"],
    summary="The job's archive: its status, and a download link when it is ready",
    security=api.KEYED,
    responses=api.responses(200, "The archive", 401, 404, 429),
)
def get_job_archive(caller: api.KeyedCaller, job_id: str) -> ArchiveDocument:
    return archives.get_archive(caller.tenant_id, "job", job_id)


@router.post(
    "/batches/<batch_id>/archive",
    operation_id="archiveBatch",
    tags=["Archives"],
    status_code=202,
    summary="Ask for a ZIP of a completed batch's outputs, a folder per job",
    security=api.KEYED,
    responses=api.responses(202, "The archive: requested, or as it is when asked for before", 401, 404, 409, 429),
)
def archive_batch(caller: api.KeyedCaller, batch_id: str) -> ArchiveDocument:
    return archives.request_batch_archive(caller.tenant_id, batch_id)


@router.get(
    "/batches/<batch_id>/archive",
    operation_id="getBatchArchive",
    tags=["Archives"],
    summary="The batch's archive: its status, and a download link when it is ready",
    security=api.KEYED,
    responses=api.responses(200, "The archive", 401, 404, 429),
)
def get_batch_archive(caller: api.KeyedCaller, batch_id: str) -> ArchiveDocument:
    return archives.get_archive(caller.tenant_id, "batch", batch_id)


app = api.resolver(router)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
