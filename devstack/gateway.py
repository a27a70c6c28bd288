"""What API Gateway does around the integration, as template.yaml configures it: its own answers
(GatewayResponses), the Lambda authorizer, and usage plans (rate, burst, daily quota per key)."""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from devstack.functions import Function, Route
from devstack.template import ACCOUNT_ID, REGION, Template, TemplateError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class GatewayResponses:
    """API Gateway's own answers, as the Api's `GatewayResponses` shape them (or its defaults), with
    the headers they set (X-Imagejobs-Version among them, from the template's Mappings)."""

    def __init__(self, configured: dict[str, Any]) -> None:
        self.configured = configured

    def answer(self, kind: str, status: int, message: str) -> tuple[int, dict[str, str], bytes]:
        family = "DEFAULT_4XX" if status < 500 else "DEFAULT_5XX"
        response = self.configured.get(kind) or self.configured.get(family) or {}
        template = response.get("ResponseTemplates", {}).get("application/json")
        body = (
            template.replace("$context.error.messageString", json.dumps(message))
            if template
            else json.dumps({"message": message})
        )
        headers = {"Content-Type": "application/json"}
        headers.update({k: v.strip("'") for k, v in response.get("ResponseParameters", {}).get("Headers", {}).items()})
        return int(response.get("StatusCode", status)), headers, body.encode()


@dataclass
class Plan:
    """One usage plan: a token bucket per key (rate per second, burst) and a quota per day."""

    rate: float
    burst: int
    quota: int | None
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (tokens, at)
    used: dict[tuple[str, int], int] = field(default_factory=dict)  # (key, UTC day's ordinal) -> requests
    lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, key: str) -> str | None:
        """None when the request may go on, else the gateway response kind that refuses it."""
        now = time.monotonic()
        with self.lock:
            tokens, at = self.buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            if tokens < 1:
                self.buckets[key] = (tokens, now)
                return "THROTTLED"
            day = datetime.now(UTC).date().toordinal()
            if self.quota is not None and self.used.get((key, day), 0) >= self.quota:
                return "QUOTA_EXCEEDED"
            self.buckets[key] = (tokens - 1, now)
            self.used[(key, day)] = self.used.get((key, day), 0) + 1
        return None

    def usage(self, key: str, day: date) -> tuple[int, int]:
        """`[used, remaining]` of the key's quota on that day (UTC), as API Gateway's GetUsage gives it."""
        with self.lock:
            used = self.used.get((key, day.toordinal()), 0)
        return used, max(0, self.quota - used) if self.quota is not None else 0


@dataclass
class UsagePlans:
    """The template's usage plans, each metered here: by logical id; the plan of each API key the
    template makes; and the open plan, which every other key joins (the admin command adds tenant
    keys to it in AWS; here every key it is given meters in it, registered or not)."""

    by_id: dict[str, Plan]
    by_key: dict[str, Plan]  # a template key's value -> its plan
    open: Plan | None

    @classmethod
    def read(cls, template: Template) -> UsagePlans:
        plans = {}
        for lid, resource in template.resources("AWS::ApiGateway::UsagePlan").items():
            properties = resource["Properties"]
            throttle = template.resolve(properties.get("Throttle", {}))
            quota = template.resolve(properties.get("Quota", {}))
            plans[lid] = Plan(
                float(throttle.get("RateLimit", 10000)),
                int(throttle.get("BurstLimit", 5000)),
                int(quota["Limit"]) if quota else None,
            )
        keys = template.resources("AWS::ApiGateway::ApiKey")
        by_key: dict[str, Plan] = {}
        for resource in template.resources("AWS::ApiGateway::UsagePlanKey").values():
            properties = resource["Properties"]
            value = template.resolve(keys[properties["KeyId"]["Ref"]]["Properties"]["Value"])
            by_key[value] = plans[properties["UsagePlanId"]["Ref"]]
        open_plans = [plan for plan in plans.values() if plan not in by_key.values()]
        if len(open_plans) > 1:
            raise TemplateError("the local stack needs at most one usage plan without template keys")
        return cls(plans, by_key, open_plans[0] if open_plans else None)

    def plan_for(self, usage_key: str) -> Plan | None:
        return self.by_key.get(usage_key, self.open)


class UsageReports:
    """moto, with API Gateway's GetUsage answered from the local stack's meter (moto has no GetUsage):
    `GET /usageplans/{plan}/usage?keyId&startDate&endDate` gives, for each key, `[used, remaining]`
    per day, as API Gateway does. Plans and keys are moto's (devstack.provision makes the
    template's; the admin command adds tenant keys), their counts the `UsagePlans`'."""

    PATH = re.compile(r"/usageplans/([^/]+)/usage/?")

    def __init__(self, app: WSGIApplication, plans: UsagePlans, template: Template, apigateway: Any) -> None:
        self.app, self.plans, self.template, self.apigateway = app, plans, template, apigateway

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        match = self.PATH.fullmatch(environ.get("PATH_INFO", ""))
        signed_for = environ.get("HTTP_AUTHORIZATION", "")
        if match is None or environ["REQUEST_METHOD"] != "GET" or "/apigateway/aws4_request" not in signed_for:
            return self.app(environ, start_response)
        status, body = self.usage(match.group(1), parse_qs(environ.get("QUERY_STRING", "")))
        headers = [("Content-Type", "application/json")]
        if status != 200:
            headers.append(("x-amzn-ErrorType", body["__type"]))
        start_response(f"{status} {'OK' if status == 200 else 'Not Found'}", headers)
        return [json.dumps(body).encode()]

    def usage(self, plan_id: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        lid = next((lid for lid in self.plans.by_id if self.template.refs.get(lid) == plan_id), None)
        if lid is None:
            return 404, {"__type": "NotFoundException", "message": "Invalid Usage Plan ID specified"}
        plan = self.plans.by_id[lid]
        key_ids = query.get("keyId") or [
            key["id"] for key in self.apigateway.get_usage_plan_keys(usagePlanId=plan_id)["items"]
        ]
        start, end = (date.fromisoformat(query[name][0]) for name in ("startDate", "endDate"))
        days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
        values = {}
        for key_id in key_ids:
            try:
                value = self.apigateway.get_api_key(apiKey=key_id, includeValue=True)["value"]
            except self.apigateway.exceptions.NotFoundException:
                return 404, {"__type": "NotFoundException", "message": "Invalid API Key identifier specified"}
            values[key_id] = [list(plan.usage(value, day)) for day in days]
        body = {"usagePlanId": plan_id, "startDate": start.isoformat(), "endDate": end.isoformat(), "values": values}
        return 200, body


class Gateway:
    """The Api's authorizer and usage plans, applied to a request for a route."""

    def __init__(self, template: Template, api: dict[str, Any], functions: list[Function], plans: UsagePlans) -> None:
        self.responses = GatewayResponses(template.resolve(api.get("GatewayResponses", {})))
        self.auth = api.get("Auth", {})
        by_id = {function.logical_id: function for function in functions}
        self.authorizers = {
            name: by_id[Template.aliased_function(config["FunctionArn"])]
            for name, config in self.auth.get("Authorizers", {}).items()
        }
        self.plans = plans
        self.method_throttles = self._method_throttles(template, api)

    @staticmethod
    def _method_throttles(template: Template, api: dict[str, Any]) -> dict[tuple[str, str], Plan]:
        """The stage's MethodSettings throttles: (method, path) -> one token bucket for all callers."""
        throttles = {}
        for setting in template.resolve(api.get("MethodSettings", [])):
            if "ThrottlingRateLimit" not in setting:
                continue
            # API Gateway's escaping: /resource/subresource is written /~1resource~1subresource.
            path = setting["ResourcePath"].removeprefix("/").replace("~1", "/")
            throttles[(setting["HttpMethod"], path)] = Plan(
                float(setting["ThrottlingRateLimit"]), int(setting.get("ThrottlingBurstLimit", 5000)), None
            )
        return throttles

    def admit(self, route: Route, event: dict[str, Any]) -> tuple[int, dict[str, str], bytes] | None:
        """Runs the route's throttle, authorizer and usage plan on the proxy event (adding the
        authorizer's context to it); an answer when API Gateway would answer itself instead of the
        integration."""
        throttle = self.method_throttles.get((route.method, route.path))
        if throttle is not None and throttle.admit("") is not None:
            return self.responses.answer("THROTTLED", 429, "Too Many Requests")
        name = route.auth.get("Authorizer", self.auth.get("DefaultAuthorizer"))
        usage_key = None
        if name and name != "NONE":
            try:
                result = self.authorizers[name].invoke(self._authorizer_event(route, event))
            except Exception as error:  # noqa: BLE001 (an authorizer that raises is API Gateway's 401 or 500)
                if str(error) == "Unauthorized":
                    return self.responses.answer("UNAUTHORIZED", 401, "Unauthorized")
                print(f"[api] authorizer {name} failed: {error!r}", file=sys.stderr)
                return self.responses.answer("AUTHORIZER_FAILURE", 500, "Internal server error")
            if any(s.get("Effect") == "Deny" for s in result.get("policyDocument", {}).get("Statement", [])):
                return self.responses.answer("ACCESS_DENIED", 403, "User is not authorized to access this resource")
            event["requestContext"]["authorizer"] = {**result.get("context", {}), "principalId": result["principalId"]}
            usage_key = result.get("usageIdentifierKey")
        if route.auth.get("ApiKeyRequired", self.auth.get("ApiKeyRequired", False)):
            return self._meter(usage_key)
        return None

    def _meter(self, usage_key: str | None) -> tuple[int, dict[str, str], bytes] | None:
        """The usage plan of the key the authorizer named: refused when there is none, or over its limits."""
        plan = self.plans.plan_for(usage_key) if usage_key else None
        if plan is None:
            return self.responses.answer("INVALID_API_KEY", 403, "Forbidden")
        refusal = plan.admit(usage_key or "")
        if refusal:
            message = "Too Many Requests" if refusal == "THROTTLED" else "Limit Exceeded"
            return self.responses.answer(refusal, 429, message)
        return None

    @staticmethod
    def _authorizer_event(route: Route, event: dict[str, Any]) -> dict[str, Any]:
        context = event["requestContext"]
        return {
            "type": "REQUEST",
            "methodArn": (
                f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{context['apiId']}/{context['stage']}"
                f"/{route.method}{event['path']}"
            ),
            **{key: event[key] for key in ("resource", "path", "httpMethod", "headers", "multiValueHeaders")},
            **{key: event[key] for key in ("queryStringParameters", "pathParameters", "stageVariables")},
            "requestContext": context,
        }
