"""What API Gateway does around the integration, as template.yaml configures it: its own answers
(GatewayResponses), the Lambda authorizer, and usage plans (rate, burst, daily quota per key)."""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from devstack.functions import Function, Route
from devstack.template import ACCOUNT_ID, REGION, Template, TemplateError


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
    used: dict[tuple[str, int], int] = field(default_factory=dict)  # (key, day) -> requests
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
            day = int(time.time() // 86400)
            if self.quota is not None and self.used.get((key, day), 0) >= self.quota:
                return "QUOTA_EXCEEDED"
            self.buckets[key] = (tokens - 1, now)
            self.used[(key, day)] = self.used.get((key, day), 0) + 1
        return None


class Gateway:
    """The Api's authorizer and usage plans, applied to a request for a route."""

    def __init__(self, template: Template, api: dict[str, Any], functions: list[Function]) -> None:
        self.responses = GatewayResponses(template.resolve(api.get("GatewayResponses", {})))
        self.auth = api.get("Auth", {})
        by_id = {function.logical_id: function for function in functions}
        self.authorizers = {
            name: by_id[config["FunctionArn"]["Fn::GetAtt"][0]]
            for name, config in self.auth.get("Authorizers", {}).items()
        }
        self.plans, self.default_plan = self._plans(template)
        self.method_throttles = self._method_throttles(template, api)

    @staticmethod
    def _plans(template: Template) -> tuple[dict[str, Plan], Plan | None]:
        """Each template API key's plan; and the plan keys made at run time join (the one no
        template key is in: the admin command adds tenant keys to it)."""
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
        return by_key, open_plans[0] if open_plans else None

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
        plan = self.plans.get(usage_key or "", self.default_plan if usage_key else None)
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
