"""devstack.functions.one_event_per_thread: handlers running side by side in the local stack each
see their own event, though Powertools keeps the event on a class every resolver shares."""

from __future__ import annotations

import threading

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, Router

from devstack.functions import one_event_per_thread


def event(path: str, body: str) -> dict:
    return {"httpMethod": "POST", "path": path, "resource": path, "body": body, "headers": {}, "requestContext": {}}


def test_two_resolvers_answering_at_once_each_read_their_own_event() -> None:
    # GIVEN two functions' resolvers in one process, each handler waiting for the other to have started
    one_event_per_thread()
    both_started = threading.Barrier(2, timeout=10)
    uploads, jobs, uploads_router = APIGatewayRestResolver(), APIGatewayRestResolver(), Router()
    seen: dict[str, str] = {}

    @uploads_router.post("/uploads")
    def upload() -> dict:
        both_started.wait()
        seen["uploads"] = uploads_router.current_event.body or ""
        return {}

    @jobs.post("/jobs")
    def job() -> dict:
        both_started.wait()
        seen["jobs"] = jobs.current_event.body or ""
        return {}

    uploads.include_router(uploads_router)

    # WHEN each resolves its own request, in its own thread, at the same time
    threads = [
        threading.Thread(target=uploads.resolve, args=(event("/uploads", '{"filename": "a.jpg"}'), None)),
        threading.Thread(target=jobs.resolve, args=(event("/jobs", '{"source": {}}'), None)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # THEN each read the body it was given
    assert seen == {"uploads": '{"filename": "a.jpg"}', "jobs": '{"source": {}}'}
