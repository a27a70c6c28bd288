"""The template's CloudFront distribution (EnableCdn=true), served by the local stack at
`http://127.0.0.1:<api port>/cdn/…`: each GET reads its origin's bucket under the origin's path, with
the object's headers, as CloudFront does on a miss. Nothing is cached, so a deleted object is gone
at once (CloudFront keeps its copy up to the cache policy's MaxTTL)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from devstack.template import Template, TemplateError

PATH = "/cdn"
# The managed response headers policies the local stack knows, by id, with the headers they add.
_RESPONSE_HEADERS = {"60669652-455b-4ae9-85a4-c4c02393f86c": {"Access-Control-Allow-Origin": "*"}}  # SimpleCORS
_HEADERS = {"ContentType": "Content-Type", "CacheControl": "Cache-Control", "ETag": "ETag", "ExpiresString": "Expires"}
# What S3 answers CloudFront's Origin Access Control, which may read objects but not list the bucket,
# for a key that does not exist; CloudFront passes it on.
_DENIED = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"


@dataclass
class Distribution:
    logical_id: str
    s3: Any
    bucket: str
    origin_path: str  # "outputs/": what a path is read under
    headers: dict[str, str]

    @classmethod
    def of(cls, template: Template, s3: Any) -> Distribution | None:
        """The template's one distribution (with an S3 origin), when its Condition holds."""
        found = template.resources("AWS::CloudFront::Distribution")
        if not found:
            return None
        if len(found) > 1:
            raise TemplateError("the local stack serves at most one CloudFront distribution")
        ((logical_id, resource),) = found.items()
        config = resource["Properties"]["DistributionConfig"]
        (origin,) = config["Origins"]
        domain = origin["DomainName"]
        if "Fn::GetAtt" not in domain or domain["Fn::GetAtt"][1] not in ("RegionalDomainName", "DomainName"):
            raise TemplateError(f"{logical_id}: the origin must be !GetAtt <Bucket>.RegionalDomainName")
        policy = config["DefaultCacheBehavior"].get("ResponseHeadersPolicyId")
        return cls(
            logical_id,
            s3,
            template.refs[domain["Fn::GetAtt"][0]],
            f"{str(template.resolve(origin.get('OriginPath', ''))).strip('/')}/".lstrip("/"),
            dict(_RESPONSE_HEADERS.get(policy, {})) if policy else {},
        )

    def answer(self, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        """CloudFront's answer to `method` `path` (which starts with PATH/)."""
        if method not in ("GET", "HEAD"):
            return 403, {"Content-Type": "text/plain", **self.headers}, b"method not allowed by the distribution"
        key = self.origin_path + path.removeprefix(f"{PATH}/")
        try:
            found = self.s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("NoSuchKey", "404"):
                raise
            return 403, {"Content-Type": "application/xml", **self.headers}, _DENIED
        headers = {_HEADERS[name]: str(found[name]) for name in _HEADERS if name in found}
        return 200, {**headers, **self.headers}, found["Body"].read()
