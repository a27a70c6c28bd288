"""The base of the service's pydantic models: built on first use, not when their module is imported.

pydantic builds a model's validator and serializer when its class is defined; a function imports
many models it never uses (GetJob imports the job request's through the documents that cite it),
and a cold start paid for every one (bench/coldstart.py). Deferred, each is built the first time
something validates, serializes or documents it, and only the models a function uses are built.
"""

from pydantic import BaseModel, ConfigDict

# Also a TypeAdapter's config, for an adapter made at import.
DEFERRED = ConfigDict(defer_build=True)


class Model(BaseModel):
    model_config = DEFERRED


def build_imported() -> None:
    """Builds every model of the service imported so far: a SnapStart snapshot's share of the first
    request's work (imagejobs.snapstart)."""
    pending: list[type[BaseModel]] = [Model]
    while pending:
        found = pending.pop()
        pending.extend(found.__subclasses__())
        if not found.__pydantic_complete__:
            found.model_rebuild()
