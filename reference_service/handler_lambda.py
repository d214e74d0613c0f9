"""AWS Lambda adapter: ``reference_service.handler_lambda.handler``.

One handler for every way the function is reached:

- Function URL / API Gateway HTTP API (payload v2) and REST API (v1): POST any path predicts, GET
  ``.../healthz`` reports health. Answers are HTTP responses; a real model failure is a 500 (the caller
  decides whether to retry, there is nothing for Lambda to retry).
- SQS batches: every message body is a request. The reply is ``batchItemFailures`` naming only the
  messages that failed for real (or were not reached before the deadline), so the rest are deleted.
  Poison messages (invalid input: retrying cannot help) go straight to INFERWATCH_DLQ_URL when set;
  without it they are reported as failures and the queue's redrive policy moves them to its DLQ.
- Direct invokes (``aws lambda invoke``, synchronous or ``--invocation-type Event``): the event is the
  request body. Invalid input returns ``{"statusCode": 400, ...}``; a real failure is raised, so an
  asynchronous invoke is retried by Lambda and then handed to the DLQ / on-failure destination.

The inference deadline is ``context.get_remaining_time_in_millis()`` minus the safety margin, so the
function answers (degraded if need be) before Lambda would kill it. EMF lines go to stdout. The service
(and its onnxruntime session) is built once per container, during the init phase.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from typing import Any, Protocol

from reference_service.dlq import SqsDeadLetterQueue
from reference_service.errors import DeadLetterError, FieldProblem, InvalidInputError
from reference_service.invocation import Reply, Service
from reference_service.settings import ServiceSettings
from reference_service.telemetry import LineSink


class LambdaContext(Protocol):
    aws_request_id: str

    def get_remaining_time_in_millis(self) -> int: ...


def _http_response(reply: Reply) -> dict[str, Any]:
    return {"statusCode": reply.status_code, "headers": {"Content-Type": "application/json"},
            "body": json.dumps(reply.body, separators=(",", ":")), "isBase64Encoded": False}


class LambdaAdapter:
    def __init__(self, service: Service, *, dlq: SqsDeadLetterQueue | None = None) -> None:
        self.service = service
        self.dlq = dlq

    def budget_s(self, context: LambdaContext) -> float:
        remaining_s = context.get_remaining_time_in_millis() / 1000
        return remaining_s - min(self.service.settings.safety_margin_s, 0.2 * remaining_s)

    def __call__(self, event: Any, context: LambdaContext) -> Any:
        if isinstance(event, (dict, Mapping)):
            records = event.get("Records")
            if isinstance(records, list) and records and isinstance(records[0], (dict, Mapping)) \
                    and records[0].get("eventSource") == "aws:sqs":
                return self._sqs(records, context)
            ctx = event.get("requestContext")
            if isinstance(ctx, (dict, Mapping)) and ("http" in ctx or "httpMethod" in event):
                return self._http(event, ctx, context)
        return self._direct(event, context)

    def _http(self, event: Mapping[str, Any], ctx: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        http_ctx = ctx.get("http")
        http: Mapping[str, Any] = http_ctx if isinstance(http_ctx, (dict, Mapping)) else {}
        method = str(http.get("method") or event.get("httpMethod") or "POST").upper()
        path = str(http.get("path") or event.get("rawPath") or event.get("path") or "/")
        if method == "GET" and path.rstrip("/").endswith("healthz"):
            return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
                    "body": json.dumps(self.service.health())}
        if method != "POST":  # a function URL passes every method: only POST predicts (as on Cloud Run)
            return {"statusCode": 405, "headers": {"Content-Type": "application/json", "Allow": "POST"},
                    "body": json.dumps({"error": f"method {method[:20]} is not allowed: use POST",
                                        "fields": [{"field": "method", "problem": f"{method[:20]} not allowed"}]})}
        body = event.get("body") or ""
        if not isinstance(body, str):
            body = json.dumps(body)
        raw = body.encode("utf-8", "surrogatepass")
        request_id = str(ctx.get("requestId") or context.aws_request_id)
        if event.get("isBase64Encoded"):
            try:
                raw = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError) as exc:
                problem = InvalidInputError(
                    [FieldProblem("body", f"isBase64Encoded is true but the body is not base64: {exc}")])
                return _http_response(self.service.reject_invalid(problem, request_id=request_id))
        if len(raw) > self.service.settings.max_body_bytes:
            return _http_response(self.service.reject_oversize(len(raw), request_id=request_id))
        return _http_response(self.service.invoke(raw, budget_s=self.budget_s(context), request_id=request_id))

    def _direct(self, event: Any, context: LambdaContext) -> dict[str, Any]:
        body: Any = event if isinstance(event, (dict, Mapping)) else json.dumps(event)
        reply = self.service.invoke(body, budget_s=self.budget_s(context), request_id=context.aws_request_id)
        if reply.failure is not None:
            raise reply.failure  # asynchronous invokes: Lambda retries, then the DLQ / on-failure destination
        return {"statusCode": reply.status_code, **reply.body}

    def _sqs(self, records: list[Any], context: LambdaContext) -> dict[str, Any]:
        failures: list[dict[str, str]] = []
        for record in records:
            message_id = str(record.get("messageId", "")) if isinstance(record, (dict, Mapping)) else ""
            body = record.get("body", "") if isinstance(record, (dict, Mapping)) else ""
            budget = self.budget_s(context)
            if budget <= 0:  # not reached in time: back to the queue, untouched
                failures.append({"itemIdentifier": message_id})
                continue
            raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else b""
            if len(raw) > self.service.settings.max_body_bytes:
                reply = self.service.reject_oversize(len(raw), request_id=message_id)
            else:
                reply = self.service.invoke(raw, budget_s=budget, request_id=message_id)
            if reply.status_code < 300:
                continue
            if reply.status_code < 500 and self._dead_letter(body, reply, message_id):
                continue
            failures.append({"itemIdentifier": message_id})
        return {"batchItemFailures": failures}

    def _dead_letter(self, body: Any, reply: Reply, message_id: str) -> bool:
        """Poison message to the DLQ now (True), or leave it to the redrive policy (False)."""
        if self.dlq is None:
            return False
        try:
            self.dlq.send(str(body), json.dumps(reply.body)[:500], request_id=message_id, source="sqs")
        except DeadLetterError:
            return False
        return True


def build_adapter(env: Mapping[str, str] = os.environ, *, sink: LineSink | None = None) -> LambdaAdapter:
    settings = ServiceSettings.from_env(env)
    service = Service(settings, sink)
    return LambdaAdapter(service, dlq=SqsDeadLetterQueue(settings.dlq_url) if settings.dlq_url else None)


_ADAPTER: LambdaAdapter | None = None


def handler(event: Any, context: LambdaContext) -> Any:
    global _ADAPTER
    if _ADAPTER is None:
        _ADAPTER = build_adapter()
    return _ADAPTER(event, context)


if "AWS_LAMBDA_FUNCTION_NAME" in os.environ:  # on Lambda: load the model in the init phase, not the first call
    _ADAPTER = build_adapter()
