"""The local stack: imagejobs whole on 127.0.0.1, with no AWS account and no Docker.

Everything is read from template.yaml: moto (server mode) hosts the S3 bucket, queues, table and
bus the template declares; the API routes call the real handlers with API Gateway proxy events;
SQS event sources are polled and their records handed to the real handlers, in this process.
"""
