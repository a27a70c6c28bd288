"""The whole local stack, started and stopped as one object (by `python -m devstack` and by tests)."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3

from devstack import apigw, cdn, iam, provision
from devstack.faults import Faults
from devstack.functions import (
    INVOKING,
    KILLS,
    Function,
    SqsPoller,
    TtlSweeper,
    functions,
    layer_paths,
    merged_environment,
    one_event_per_thread,
)
from devstack.gateway import Gateway, UsagePlans, UsageReports
from devstack.s3post import Credentials, MotoServer, moto_app
from devstack.template import REGION, ROOT, Template, TemplateError

# What differs from AWS, for development only: fake credentials, every client pointed at moto,
# X-Ray and CloudWatch metrics off, and callbacks allowed to reach http:// on loopback.
LOCAL_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "ALLOW_LOOPBACK_URLS": "true",
}


# The local stack's own parameters, under those it is given: one connected bucket, for the
# development tenant to read sources from and write outputs to.
LOCAL_PARAMETERS = {"ConnectedBuckets": "local-media"}


def state_file(aws_port: int) -> Path:
    """Where a running stack tells other commands (`python -m devstack.admin`) how to reach it."""
    return ROOT / ".devstack" / f"stack-{aws_port}.json"


@dataclass
class Stack:
    api_key: str
    api_port: int = 3000
    aws_port: int = 3001
    host: str = "127.0.0.1"
    stack_name: str = "imagejobs-local"
    webhook_secret: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    poll: bool = True  # False: tests drive the queues themselves
    kills: dict[str, str] = field(default_factory=dict)  # function -> how Lambda stops its every invocation
    # A directory: authorize every AWS call of the functions against their roles in template.yaml
    # (devstack.iam), refuse what AWS would, and record the calls there (stack-<aws_port>.jsonl).
    iam_records: Path | None = None
    faults: Faults | None = None  # AWS errors and odd SQS deliveries at random (devstack.faults)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.guard: iam.Guard | None = None
        self.template = Template.read(self.stack_name, {**LOCAL_PARAMETERS, **self.parameters})
        # What the template calls https://<api>.execute-api… and https://<distribution>, served here.
        for logical_id in self.template.resources("AWS::Serverless::Api"):
            self.template.local_urls[logical_id] = f"http://{self.host}:{self.api_port}"
        for logical_id in self.template.resources("AWS::CloudFront::Distribution"):
            self.template.local_urls[logical_id] = f"http://{self.host}:{self.api_port}{cdn.PATH}"
        unknown = {how for how in self.kills.values() if how not in KILLS}
        if unknown:
            raise TemplateError(f"IMAGEJOBS_KILL: {', '.join(sorted(unknown))}: say one of {', '.join(KILLS)}")

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}/{self.stage}"

    @property
    def aws_url(self) -> str:
        return f"http://{self.host}:{self.aws_port}"

    @property
    def stage(self) -> str:
        apis = self.template.resources("AWS::Serverless::Api")
        if len(apis) != 1:
            raise TemplateError("the local stack serves exactly one AWS::Serverless::Api")
        return str(self.template.resolve(next(iter(apis.values()))["Properties"]["StageName"]))

    @property
    def api(self) -> dict[str, Any]:
        """The properties of the template's one AWS::Serverless::Api."""
        (api,) = self.template.resources("AWS::Serverless::Api").values()
        return dict(api["Properties"])

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.aws_url, region_name=REGION)

    def start(self) -> Stack:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request lines
        os.environ.update(LOCAL_ENVIRONMENT, AWS_ENDPOINT_URL=self.aws_url)
        names = ("s3", "sqs", "dynamodb", "events", "secretsmanager", "apigateway")
        clients = SimpleNamespace(**{name: self.client(name) for name in names})
        # moto in server mode, with presigned POST forms checked as S3 checks them (against the
        # credentials that sign them), and GetUsage answered from the usage plans' meters (the plans
        # and keys themselves are moto's).
        signer = Credentials(LOCAL_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"], LOCAL_ENVIRONMENT["AWS_SESSION_TOKEN"])
        self.usage_plans = UsagePlans.read(self.template)
        forms = moto_app({LOCAL_ENVIRONMENT["AWS_ACCESS_KEY_ID"]: signer})
        self._moto = MotoServer(
            self.host, self.aws_port, UsageReports(forms, self.usage_plans, self.template, clients.apigateway)
        )
        self._moto.start()
        provision.provision(self.template, clients)
        if self.iam_records is not None:  # before any client of the functions exists: they copy the hooks
            roles = iam.Roles.resolve(iam.translate(), self.template)
            record = self.iam_records / f"stack-{self.aws_port}.jsonl"
            self.guard = iam.Guard(roles, INVOKING.get, record).install()

        self.functions, routes, sources, streams = functions(self.template)
        for path in reversed(layer_paths(self.template, self.functions)):
            if path not in sys.path:
                sys.path.insert(0, path)
        environment = merged_environment(self.template, self.functions)
        os.environ.update(environment)
        self.tenant_id = self._seed()
        # Every handler is imported now, in this one thread: imported first by the threads that
        # serve requests and queues, two could meet a module the other had half initialised.
        one_event_per_thread()
        for function in self.functions:
            function.load()
            function.kill = self.kills.get(function.logical_id)
        self._state = state_file(self.aws_port)
        self._state.parent.mkdir(exist_ok=True)
        self._state.write_text(
            json.dumps(
                {
                    "sys_path": layer_paths(self.template, self.functions),
                    "environment": {**LOCAL_ENVIRONMENT, "AWS_ENDPOINT_URL": self.aws_url, **environment},
                }
            )
        )

        if self.faults is not None:
            self.faults.install(self._function_clients())
        gateway = Gateway(self.template, self.api, self.functions, self.usage_plans)
        self.distribution = cdn.Distribution.of(self.template, clients.s3)
        self._api = apigw.serve(
            self.host, self.api_port, self.stage, routes, api=self.api, gateway=gateway, distribution=self.distribution
        )
        self._threads.append(threading.Thread(target=self._api.serve_forever, name="api", daemon=True))
        self.pollers = [SqsPoller(source, clients.sqs, self.template, self._stop, self.faults) for source in sources]
        self.ttl = TtlSweeper(streams, clients.dynamodb, self.template, self._stop)
        if self.poll:
            self._threads.extend([*self.pollers, self.ttl])
        for thread in self._threads:
            thread.start()
        return self

    @property
    def connected_buckets(self) -> list[str]:
        """The buckets jobs may read and write (`ConnectedBuckets`)."""
        return self.template.list_parameter("ConnectedBuckets")

    def _seed(self) -> str:
        """A development tenant that owns `api_key`, granted every connected bucket whole."""
        from imagejobs.services import accounts, grants  # noqa: PLC0415 (importable once the template's layers are on sys.path)

        tenant = accounts.create_tenant("local development", webhook_secret=self.webhook_secret)
        accounts.create_key(tenant.id, "local development", key=self.api_key)
        for bucket in self.connected_buckets:
            grants.add(tenant.id, f"s3://{bucket}/", read=True, write=True)
        for bucket in self.template.list_parameter("ConnectedReadOnlyBuckets"):
            grants.add(tenant.id, f"s3://{bucket}/", read=True, write=False)
        self.webhook_secret = tenant.webhook_secret
        return tenant.id

    @staticmethod
    def _function_clients() -> list[Any]:
        """The botocore clients the functions' code calls AWS with (made once, then cached)."""
        from imagejobs.settings import get_settings  # noqa: PLC0415 (importable once the layers are on sys.path)
        from imagejobs.store import aws  # noqa: PLC0415

        return [aws.client(name) for name in ("s3", "dynamodb", "events")] + [
            aws.table(get_settings().table_name).meta.client
        ]

    def function(self, logical_id: str) -> Function:
        return next(f for f in self.functions if f.logical_id == logical_id)

    def stop(self) -> None:
        self._stop.set()
        if hasattr(self, "_state"):
            self._state.unlink(missing_ok=True)
        if hasattr(self, "_api"):
            self._api.shutdown()
            self._api.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        if self.guard is not None:
            self.guard.close()
        self._moto.stop()
        if self.faults is not None:
            print(f"[devstack] faults injected: {json.dumps(self.faults.counts())}", flush=True)
