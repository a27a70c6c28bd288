"""API Gateway (REST, proxy integration) on 127.0.0.1: HTTP in, the handler's proxy event out."""

from __future__ import annotations

import base64
import gzip
import re
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from devstack import cdn
from devstack.functions import Route
from devstack.gateway import Gateway
from devstack.template import ACCOUNT_ID, TemplateError

MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit


class CompiledRoute:
    def __init__(self, stage: str, route: Route) -> None:
        self.route = route
        self.stage = stage
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(route.path))
        self.regex = re.compile(f"^/{re.escape(stage)}{pattern}/?$")

    def match(self, method: str, path: str) -> dict[str, str] | None:
        found = self.regex.match(path) if method == self.route.method else None
        return found.groupdict() if found else None


def proxy_event(
    compiled: CompiledRoute,
    *,
    method: str,
    raw_path: str,
    path_parameters: dict[str, str],
    headers: dict[str, str],
    body: bytes,
    source_ip: str,
    domain_name: str,
) -> dict[str, Any]:
    parts = urlsplit(raw_path)
    query = parse_qs(parts.query, keep_blank_values=True)
    # API Gateway tells the integration how it was reached (the local stack speaks http, not https).
    headers = {**headers, "X-Forwarded-Proto": "http", "X-Forwarded-Port": domain_name.rpartition(":")[2]}
    return {
        "resource": compiled.route.path,
        "path": parts.path.removeprefix(f"/{compiled.stage}"),
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": compiled.route.path,
            "httpMethod": method,
            "path": parts.path,
            "stage": compiled.stage,
            "domainName": domain_name,
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent", "")},
        },
        "body": body.decode("utf-8", errors="replace") if body else None,
        "isBase64Encoded": False,
    }


def serve(
    host: str,
    port: int,
    stage: str,
    routes: list[Route],
    *,
    api: dict[str, Any],
    gateway: Gateway,
    distribution: cdn.Distribution | None = None,
) -> ThreadingHTTPServer:
    """The API on host:port: `api` is the AWS::Serverless::Api's properties; `gateway` what API
    Gateway does around each integration; `distribution` the CDN, served under /cdn/. Preflights
    (OPTIONS) are routes like any other."""
    if "Cors" in api:
        raise TemplateError("the local stack routes preflights to functions: declare OPTIONS events, not Cors")
    compiled = [CompiledRoute(stage, route) for route in routes]
    compress_from = api.get("MinimumCompressionSize")

    class Handler(BaseHTTPRequestHandler):
        server_version = "imagejobs-devstack"

        def _dispatch(self) -> None:
            path = urlsplit(self.path).path
            if distribution is not None and path.startswith(f"{cdn.PATH}/"):
                self._send(*distribution.answer(self.command, path))
                return
            for candidate in compiled:
                parameters = candidate.match(self.command, path)
                if parameters is not None:
                    break
            else:  # API Gateway answers an unknown method or path itself
                self._send(
                    *gateway.responses.answer("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token")
                )
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._send(*gateway.responses.answer("REQUEST_TOO_LARGE", 413, "Request Too Long"))
                return
            body = self.rfile.read(length) if length else b""
            event = proxy_event(
                candidate,
                method=self.command,
                raw_path=self.path,
                path_parameters=parameters,
                headers=dict(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
                domain_name=f"{host}:{port}",
            )
            refusal = gateway.admit(candidate.route, event)
            if refusal is not None:
                self._send(*refusal)
                return
            try:
                response = candidate.route.function.invoke(event)
            except Exception as error:  # noqa: BLE001 (API Gateway answers 502 when the function fails)
                print(f"[api] {candidate.route.function.logical_id} failed: {error!r}", file=sys.stderr)
                self._send(*gateway.responses.answer("DEFAULT_5XX", 502, "Internal server error"))
                return
            headers = dict(response.get("headers") or {})
            for name, values in (response.get("multiValueHeaders") or {}).items():
                headers[name] = ", ".join(values)
            body = (response.get("body") or "").encode()
            self._send(
                int(response["statusCode"]),
                headers,
                base64.b64decode(body) if response.get("isBase64Encoded") else body,
            )

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            accepted = {coding.split(";")[0].strip() for coding in self.headers.get("Accept-Encoding", "").split(",")}
            if compress_from is not None and len(body) >= int(compress_from) and "gzip" in accepted:
                body, headers = gzip.compress(body), {**headers, "Content-Encoding": "gzip"}
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def __getattr__(self, name: str) -> Any:
            """Every method (GET, TRACE, QUERY, …) reaches the router, as at API Gateway."""
            if name.startswith("do_"):
                return self._dispatch
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            print(f"[api] {self.address_string()} {format % args}", file=sys.stderr)

    return ThreadingHTTPServer((host, port), Handler)
