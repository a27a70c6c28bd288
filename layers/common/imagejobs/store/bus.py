"""Publishing to the bus. What is published is the public contract of `imagejobs.spec.events`."""

from __future__ import annotations

from pydantic import BaseModel

from imagejobs.settings import get_settings
from imagejobs.spec.events import SOURCE
from imagejobs.store.aws import client


class PublishError(Exception):
    """The bus refused an event; the caller's message is retried."""


def publish(detail_type: str, detail: BaseModel) -> None:
    response = client("events").put_events(
        Entries=[
            {
                "Source": SOURCE,
                "DetailType": detail_type,
                "Detail": detail.model_dump_json(exclude_none=True),
                "EventBusName": get_settings().event_bus_name,
                "Resources": [],
            }
        ]
    )
    if response.get("FailedEntryCount"):
        raise PublishError(str(response["Entries"]))
