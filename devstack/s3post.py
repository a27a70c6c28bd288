"""Presigned POST forms checked as S3 checks them, in front of moto (which writes any form it gets).

A form upload (a POST of multipart/form-data to `http://host:port/<bucket>`) reaches moto only if
S3 would take it: a SigV4 signature over the policy by a known access key (and its session token),
a policy that has not expired, every condition met (`eq`, `starts-with`, `content-length-range`,
the bucket), every form field named by a condition, and exactly one file. A refusal is S3's
answer: its status, error code and message, in S3's XML error body; nothing is written.
Other requests go to moto as they came: boto3's own calls, presigned GETs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.formparser import parse_form_data
from werkzeug.serving import make_server

from devstack import motospeed

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
# Fields no condition needs to name (S3's POST Object rules).
_UNCONDITIONED = frozenset({"policy", "x-amz-signature", "file"})


@dataclass(frozen=True)
class Credentials:
    secret_key: str
    session_token: str | None = None


class Refused(Exception):  # noqa: N818 (S3's answer, not a failure of this code)
    def __init__(self, status: int, code: str, message: str, **extra: object) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def _policy_failed(condition: list[Any]) -> Refused:
    return Refused(
        403, "AccessDenied", f"Invalid according to Policy: Policy Condition failed: {json.dumps(condition)}"
    )


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret_key}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def check_form(
    bucket: str,
    fields: Mapping[str, list[str]],
    file_size: int,
    credentials: Mapping[str, Credentials],
    now: float,
) -> None:
    """Raises Refused unless S3 would take the form: `fields` by lower-cased name (every value
    given), `file_size` the size of its one file."""
    for name, values in fields.items():
        if len(values) > 1:
            raise Refused(400, "InvalidArgument", f"the form field {name} appears more than once")
    field = {name: values[0] for name, values in fields.items()}
    if "key" not in field:
        raise Refused(
            400,
            "InvalidArgument",
            "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
        )
    if "policy" not in field or "x-amz-signature" not in field:
        raise Refused(403, "AccessDenied", "Access Denied")
    if field.get("x-amz-algorithm") != "AWS4-HMAC-SHA256":
        raise Refused(400, "InvalidArgument", "the local stack checks AWS4-HMAC-SHA256 forms only")
    _check_signature(field, credentials)
    try:
        policy = json.loads(base64.b64decode(field["policy"], validate=True))
        expiration = datetime.fromisoformat(policy["expiration"]).timestamp()
        conditions = list(policy["conditions"])
    except (binascii.Error, ValueError, KeyError, TypeError) as error:
        raise Refused(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.") from error
    if expiration < now:
        raise Refused(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    try:
        named = _check_conditions(conditions, {**field, "bucket": bucket}, file_size)
    except (ValueError, TypeError) as error:  # a content-length-range that is not two numbers
        raise Refused(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.") from error
    extra = sorted(
        name for name in field if name not in named and name not in _UNCONDITIONED and not name.startswith("x-ignore-")
    )
    if extra:
        raise Refused(403, "AccessDenied", f"Invalid according to Policy: Extra input fields: {', '.join(extra)}")


def _check_signature(field: Mapping[str, str], credentials: Mapping[str, Credentials]) -> None:
    try:
        access_key, date, region, service, terminal = field["x-amz-credential"].split("/")
    except (KeyError, ValueError) as error:
        raise Refused(400, "InvalidArgument", "the x-amz-credential field is malformed") from error
    known = credentials.get(access_key)
    if known is None:
        raise Refused(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
    if service != "s3" or terminal != "aws4_request":
        raise Refused(400, "InvalidArgument", "the x-amz-credential field is malformed")
    expected = hmac.new(
        signing_key(known.secret_key, date, region, service), field["policy"].encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, field["x-amz-signature"].lower()):
        raise Refused(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
        )
    if known.session_token is not None and field.get("x-amz-security-token") != known.session_token:
        raise Refused(403, "InvalidToken", "The provided token is malformed or otherwise invalid.")


def _canonical(condition: Any) -> Any:
    """{"name": "value"} is short for ["eq", "$name", "value"]."""
    if isinstance(condition, dict) and len(condition) == 1:
        ((name, value),) = condition.items()
        return ["eq", f"${name}", value]
    return condition


def _check_conditions(conditions: list[Any], field: Mapping[str, str], file_size: int) -> set[str]:
    """Checks each condition; the field names they name (lower-cased)."""
    named = set()
    for condition in map(_canonical, conditions):
        if not isinstance(condition, list) or len(condition) != 3:
            raise Refused(400, "InvalidPolicyDocument", f"Invalid Policy: Invalid Condition: {json.dumps(condition)}")
        operator, subject, value = condition
        if operator == "content-length-range":
            _check_size(int(subject), int(value), file_size)
            continue
        if operator not in ("eq", "starts-with") or not isinstance(subject, str) or not subject.startswith("$"):
            raise Refused(400, "InvalidPolicyDocument", f"Invalid Policy: Invalid Condition: {json.dumps(condition)}")
        name = subject[1:].lower()
        named.add(name)
        given = field.get(name)
        if given is None or not (given == value if operator == "eq" else given.startswith(str(value))):
            raise _policy_failed(condition)
    return named


def _check_size(least: int, most: int, size: int) -> None:
    if size > most:
        raise Refused(
            400,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size",
            ProposedSize=size,
            MaxSizeAllowed=most,
        )
    if size < least:
        raise Refused(
            400,
            "EntityTooSmall",
            "Your proposed upload is smaller than the minimum allowed size",
            ProposedSize=size,
            MinSizeAllowed=least,
        )


class PostPolicy:
    """WSGI middleware: form uploads checked by `check_form` before `app` (moto) sees them."""

    def __init__(self, app: WsgiApp, credentials: Mapping[str, Credentials]) -> None:
        self.app = app
        self.credentials = credentials

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        content_type = environ.get("CONTENT_TYPE", "").lower()
        is_form_post = environ["REQUEST_METHOD"] == "POST" and not environ.get("QUERY_STRING")
        if not is_form_post or not content_type.startswith(
            ("multipart/form-data", "application/x-www-form-urlencoded")
        ):
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again
        try:
            self._check(environ, content_type, body)
        except Refused as refused:
            return self._refuse(refused, environ, start_response)
        return self.app(environ, start_response)

    def _check(self, environ: dict[str, Any], content_type: str, body: bytes) -> None:
        bucket = environ.get("PATH_INFO", "").strip("/")
        if content_type.startswith("application/x-www-form-urlencoded"):
            # moto would write an object from `key` and `file`; S3 takes forms only as multipart.
            if "key" in parse_qs(body.decode("latin-1")) and bucket and "/" not in bucket:
                raise Refused(
                    412,
                    "PreconditionFailed",
                    "At least one of the pre-conditions you specified did not hold",
                    Condition="Bucket POST must be of the enclosure-type multipart/form-data",
                )
            return
        if not bucket or "/" in bucket:
            raise Refused(400, "InvalidArgument", "the local stack takes form uploads at http://host:port/<bucket>")
        _, form, files = parse_form_data({**environ, "wsgi.input": io.BytesIO(body)})
        fields: dict[str, list[str]] = {}
        for name in form:
            fields.setdefault(name.lower(), []).extend(form.getlist(name))
        uploads = [(name, storage) for name in files for storage in files.getlist(name)]
        file_fields = [name for name in fields if name == "file"]
        if len(uploads) + len(file_fields) != 1 or (uploads and uploads[0][0] != "file"):
            raise Refused(400, "InvalidArgument", "POST requires exactly one file upload per request.")
        size = len(uploads[0][1].stream.read()) if uploads else len(fields.pop("file")[0].encode())
        check_form(bucket, fields, size, self.credentials, time.time())

    @staticmethod
    def _refuse(refused: Refused, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        extra = "".join(f"<{name}>{escape(str(value))}</{name}>" for name, value in refused.extra.items())
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{refused.code}</Code><Message>{escape(refused.message)}</Message>{extra}"
            f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
        ).encode()
        headers = [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
        if environ.get("HTTP_ORIGIN"):  # the bucket's CORS rule allows every origin to POST
            headers.append(("Access-Control-Allow-Origin", "*"))
        start_response(f"{refused.status} {_REASONS[refused.status]}", headers)
        return [body]


_REASONS = {400: "Bad Request", 403: "Forbidden", 412: "Precondition Failed"}


class OneWriteAtATime:
    """WSGI middleware: DynamoDB's requests handled one at a time. DynamoDB applies each request to
    an item atomically, condition included; moto checks a condition and then changes the item in
    steps, with no lock, so two threads' writes to one item can interleave there (a job registered
    to wait for an upload just as the upload is marked received is then never started)."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return self.app(environ, start_response)
        with self.lock:
            return list(self.app(environ, start_response))


def moto_app(credentials: Mapping[str, Credentials]) -> WsgiApp:
    """moto's server-mode application, with form uploads checked by PostPolicy and DynamoDB's
    requests applied atomically, as DynamoDB applies them."""
    motospeed.install()
    return PostPolicy(OneWriteAtATime(DomainDispatcherApplication(create_backend_app)), credentials)


class MotoServer:
    """A WSGI application (moto's, with what the stack puts in front of it) on host:port."""

    def __init__(self, host: str, port: int, app: WsgiApp) -> None:
        self._server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
