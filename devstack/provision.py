"""Creates on moto the storage, queues, table, bus, rules, secrets and usage plans that template.yaml declares.

Bucket and queue policies, the REST API and the layers have no local counterpart (moto does not
enforce policies; the API and the functions are served by this package itself, and so is a
CloudFront distribution's path, by devstack.cdn; a usage plan's stages are the one API it serves).
The functions' roles are enforced by devstack.iam, when the stack is asked to.
"""

from __future__ import annotations

import json
import secrets
import string
from typing import Any

from devstack.template import ACCOUNT_ID, REGION, Template, TemplateError

NOT_EMULATED = frozenset(
    {
        "AWS::S3::BucketPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::Serverless::Api",
        "AWS::Serverless::Function",
        "AWS::Serverless::LayerVersion",
        # Logs, the API's logging role, alarms and the dashboard: the local stack logs to stdout.
        "AWS::Logs::LogGroup",
        "AWS::IAM::Role",
        "AWS::ApiGateway::Account",
        "AWS::SNS::Topic",
        "AWS::SNS::Subscription",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
        # Served by devstack.cdn itself, uncached, straight from the bucket.
        "AWS::CloudFront::Distribution",
        "AWS::CloudFront::OriginAccessControl",
        "AWS::CloudFront::CachePolicy",
    }
)
EMULATED = (
    "AWS::SQS::Queue",
    "AWS::DynamoDB::Table",
    "AWS::Events::EventBus",
    "AWS::S3::Bucket",
    "AWS::Events::Rule",
    "AWS::SecretsManager::Secret",
    # On moto's API Gateway, for what the functions and the admin command ask of it (GetUsagePlan,
    # CreateApiKey, ...); devstack.gateway meters requests by them and answers GetUsage.
    "AWS::ApiGateway::UsagePlan",
    "AWS::ApiGateway::ApiKey",
    "AWS::ApiGateway::UsagePlanKey",
)


# The deployer's own buckets, which a deployed stack is only given access to: locally they are
# made here, empty, from the same parameters.
CONNECTED_BUCKETS = ("ConnectedBuckets", "ConnectedReadOnlyBuckets")


def provision(template: Template, clients: Any) -> None:
    """Creates every emulated resource, in an order that lets each one's references resolve, and
    the connected buckets."""
    unknown = {r["Type"] for r in template.body["Resources"].values()} - NOT_EMULATED - set(EMULATED)
    if unknown:
        raise TemplateError(f"the local stack cannot emulate {', '.join(sorted(unknown))}")
    _queues(template, clients.sqs)
    for logical_id, resource in template.resources("AWS::DynamoDB::Table").items():
        _table(template, clients.dynamodb, logical_id, resource["Properties"])
    for logical_id, resource in template.resources("AWS::Events::EventBus").items():
        name = template.resolve(resource["Properties"]["Name"])
        arn = clients.events.create_event_bus(Name=name)["EventBusArn"]
        template.refs[logical_id] = name
        template.attributes[logical_id] = {"Arn": arn, "Name": name}
    for logical_id, resource in template.resources("AWS::S3::Bucket").items():
        _bucket(template, clients.s3, logical_id, resource.get("Properties", {}))
    for logical_id, resource in template.resources("AWS::Events::Rule").items():
        _rule(template, clients.events, logical_id, resource["Properties"])
    for logical_id, resource in template.resources("AWS::SecretsManager::Secret").items():
        _secret(template, clients.secretsmanager, logical_id, resource["Properties"])
    _usage_plans(template, clients.apigateway)
    for name in sorted({name for parameter in CONNECTED_BUCKETS for name in template.list_parameter(parameter)}):
        clients.s3.create_bucket(Bucket=name)


def _name(template: Template, logical_id: str) -> str:
    return f"{template.stack_name}-{logical_id}"


def _queues(template: Template, sqs: Any) -> None:
    queues = template.resources("AWS::SQS::Queue")
    for logical_id, resource in queues.items():  # first every queue, then the redrive policies
        properties = resource.get("Properties", {})
        attributes = {
            key: str(template.resolve(properties[key]))
            for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds")
            if key in properties
        }
        url = sqs.create_queue(QueueName=_name(template, logical_id), Attributes=attributes)["QueueUrl"]
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{_name(template, logical_id)}"
        template.refs[logical_id] = url
        template.attributes[logical_id] = {"Arn": arn, "QueueName": _name(template, logical_id), "QueueUrl": url}
    for logical_id, resource in queues.items():
        redrive = resource.get("Properties", {}).get("RedrivePolicy")
        if redrive:
            policy = template.resolve(redrive)
            sqs.set_queue_attributes(
                QueueUrl=template.refs[logical_id],
                Attributes={
                    "RedrivePolicy": json.dumps(
                        {
                            "deadLetterTargetArn": policy["deadLetterTargetArn"],
                            "maxReceiveCount": int(policy["maxReceiveCount"]),
                        }
                    )
                },
            )


def _table(template: Template, dynamodb: Any, logical_id: str, properties: dict[str, Any]) -> None:
    properties = template.resolve(properties)
    name = properties.get("TableName", _name(template, logical_id))
    arguments: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode", "PROVISIONED"),
    }
    if properties.get("GlobalSecondaryIndexes"):
        arguments["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
    if "StreamSpecification" in properties:
        arguments["StreamSpecification"] = {"StreamEnabled": True, **properties["StreamSpecification"]}
    description = dynamodb.create_table(**arguments)["TableDescription"]
    ttl = properties.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
        )
    template.refs[logical_id] = name
    template.attributes[logical_id] = {
        "Arn": description["TableArn"],
        "StreamArn": description.get("LatestStreamArn", ""),
    }


def _bucket(template: Template, s3: Any, logical_id: str, properties: dict[str, Any]) -> None:
    properties = template.resolve(properties)
    name = properties.get("BucketName", _name(template, logical_id).lower())
    s3.create_bucket(Bucket=name)
    template.refs[logical_id] = name
    template.attributes[logical_id] = {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"}
    if "CorsConfiguration" in properties:
        renamed = {"MaxAge": "MaxAgeSeconds", "Id": "ID", "ExposedHeaders": "ExposeHeaders"}
        rules = [
            {renamed.get(k, k): v for k, v in rule.items()} for rule in properties["CorsConfiguration"]["CorsRules"]
        ]
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": rules})
    queue_configurations = properties.get("NotificationConfiguration", {}).get("QueueConfigurations", [])
    if queue_configurations:
        s3.put_bucket_notification_configuration(
            Bucket=name,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "QueueArn": q["Queue"],
                        "Events": [q["Event"]],
                        **(
                            {"Filter": {"Key": {"FilterRules": q["Filter"]["S3Key"]["Rules"]}}} if "Filter" in q else {}
                        ),
                    }
                    for q in queue_configurations
                ]
            },
        )


def _rule(template: Template, events: Any, logical_id: str, properties: dict[str, Any]) -> None:
    properties = template.resolve(properties)
    name = properties.get("Name", _name(template, logical_id))
    bus = properties.get("EventBusName", "default")
    arn = events.put_rule(
        Name=name, EventBusName=bus, EventPattern=json.dumps(properties["EventPattern"]), State="ENABLED"
    )["RuleArn"]
    events.put_targets(
        Rule=name, EventBusName=bus, Targets=[{"Id": t["Id"], "Arn": t["Arn"]} for t in properties["Targets"]]
    )
    template.refs[logical_id] = name
    template.attributes[logical_id] = {"Arn": arn}


def _secret(template: Template, secretsmanager: Any, logical_id: str, properties: dict[str, Any]) -> None:
    """A secret with a value of its own each time the stack starts, made as GenerateSecretString says."""
    properties = template.resolve(properties)
    generate = properties.get("GenerateSecretString")
    if generate is None or set(generate) - {"PasswordLength", "ExcludePunctuation"}:
        raise TemplateError(f"{logical_id}: only GenerateSecretString with PasswordLength, ExcludePunctuation")
    alphabet = string.ascii_letters + string.digits
    if not generate.get("ExcludePunctuation"):
        alphabet += string.punctuation
    value = "".join(secrets.choice(alphabet) for _ in range(int(generate.get("PasswordLength", 32))))
    arn = secretsmanager.create_secret(Name=_name(template, logical_id), SecretString=value)["ARN"]
    template.refs[logical_id] = arn
    template.attributes[logical_id] = {"Id": arn}


def _usage_plans(template: Template, apigateway: Any) -> None:
    """Usage plans (without their stages: the REST API is not moto's), API keys and their plans."""
    for logical_id, resource in template.resources("AWS::ApiGateway::UsagePlan").items():
        properties = template.resolve({k: v for k, v in resource["Properties"].items() if k != "ApiStages"})
        arguments: dict[str, Any] = {
            "name": _name(template, logical_id),
            "description": properties.get("Description", ""),
        }
        if "Throttle" in properties:
            throttle = properties["Throttle"]
            arguments["throttle"] = {
                "rateLimit": float(throttle["RateLimit"]),
                "burstLimit": int(throttle["BurstLimit"]),
            }
        if "Quota" in properties:
            quota = properties["Quota"]
            arguments["quota"] = {
                "limit": int(quota["Limit"]),
                "period": quota["Period"],
                "offset": int(quota.get("Offset", 0)),
            }
        template.refs[logical_id] = apigateway.create_usage_plan(**arguments)["id"]
    for logical_id, resource in template.resources("AWS::ApiGateway::ApiKey").items():
        properties = template.resolve(resource["Properties"])
        created = apigateway.create_api_key(
            name=properties.get("Name", _name(template, logical_id)),
            value=properties["Value"],
            enabled=str(properties.get("Enabled", False)).lower() == "true",
        )
        template.refs[logical_id] = created["id"]
    for resource in template.resources("AWS::ApiGateway::UsagePlanKey").values():
        properties = template.resolve(resource["Properties"])
        apigateway.create_usage_plan_key(
            usagePlanId=properties["UsagePlanId"], keyId=properties["KeyId"], keyType=properties["KeyType"]
        )
