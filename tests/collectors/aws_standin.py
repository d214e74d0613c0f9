"""An AWS stand-in for the collector tests: moto over real HTTP, extended in-process where moto lacks
behaviour, behind a small fault-injecting front door.

- ``MotoStandIn``: ``moto.server.ThreadedMotoServer`` on 127.0.0.1 port 0 with CloudWatch patched so
  ``Stat`` accepts ``pNN`` (nearest rank) and ``PR(:edge)`` / ``PR(lo:hi)`` (percent of values in
  ``(lo, hi]``), GetMetricData refuses more than 500 queries (as AWS does; moto accepts any number)
  and pages results by datapoints with ``NextToken`` + ``StatusCode: PartialData`` when
  ``page_datapoints`` is set.
- ``FrontDoor``: a plain HTTP server in front of moto that forwards every request, can answer a
  share of them with the real throttling / 5xx shapes of each protocol, records every call's IAM
  action, and answers Lambda's provisioned-concurrency list (no moto route exists, HTTP 404) from
  ``provisioned``, in the wire shape of the botocore model.
"""

from __future__ import annotations

import http.client
import json
import math
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, SupportsFloat
from urllib.parse import unquote, urlsplit

from moto.cloudwatch import models as cw_models
from moto.cloudwatch import responses as cw_responses
from moto.cloudwatch.exceptions import ValidationError
from moto.server import ThreadedMotoServer

from tests.collectors import moto_index

_PCT = re.compile(r"^p(\d{1,2}(?:\.\d+)?|100)$")
_PR = re.compile(r"^PR\(([^:()]*):([^:()]*)\)$")
MAX_QUERIES = 500


def _percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(pct / 100.0 * len(ordered))) - 1]


def _percentile_rank(values: list[float], lo: str, hi: str) -> float | None:
    if not values:
        return None
    low = float(lo) if lo else -math.inf
    high = float(hi) if hi else math.inf
    return 100.0 * sum(1 for v in values if low < v <= high) / len(values)


_orig_stat = cw_models.Statistics.get_statistics_for_type


def _stat(self: cw_models.Statistics, stat: str) -> SupportsFloat | None:
    pct = _PCT.match(stat or "")
    if pct:
        return _percentile(self.metric_single_values_list, float(pct.group(1)))
    rank = _PR.match(stat or "")
    if rank:
        return _percentile_rank(self.metric_single_values_list, rank.group(1), rank.group(2))
    return _orig_stat(self, stat)


class _Paging:
    page_datapoints: int | None = None


PAGING = _Paging()
_orig_gmd = cw_responses.CloudWatchResponse.get_metric_data


def _get_metric_data(self: cw_responses.CloudWatchResponse) -> Any:
    queries = self._get_params().get("MetricDataQueries", [])
    if len(queries) > MAX_QUERIES:
        raise ValidationError(f"The collection MetricDataQueries must not have a size greater than {MAX_QUERIES}.")
    result = _orig_gmd(self)
    size = PAGING.page_datapoints
    if not size:
        return result
    offset = int(self._get_param("NextToken") or 0)
    more = False
    payload: dict[str, Any] = result.result  # type: ignore[assignment]  # moto types it as object
    for item in payload["MetricDataResults"]:
        values, stamps = item["values"], item["timestamps"]
        item["values"], item["timestamps"] = values[offset:offset + size], stamps[offset:offset + size]
        if len(values) > offset + size:
            item["status_code"], more = "PartialData", True
    if more:
        payload["NextToken"] = str(offset + size)
    return result


_PATCHED = False


def apply_patches() -> None:
    """Patch moto in this process (idempotent); the server thread shares the patched classes."""
    global _PATCHED
    if _PATCHED:
        return
    cw_models.Statistics.get_statistics_for_type = _stat  # type: ignore[method-assign]
    cw_responses.CloudWatchResponse.get_metric_data = _get_metric_data  # type: ignore[method-assign]
    moto_index.apply()
    _PATCHED = True


class MotoStandIn:
    def __init__(self) -> None:
        apply_patches()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.stop()

    def post(self, path: str, body: dict[str, Any]) -> int:
        """POST JSON to a moto control route (``/moto-api/...``); returns the status."""
        parts = urlsplit(self.endpoint)
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
        try:
            conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()

    def seed_cost_results(self, results: list[dict[str, Any]]) -> None:
        """Queue Cost Explorer answers (moto hands them out one per distinct request body)."""
        status = self.post("/moto-api/static/ce/cost-and-usage-results", {"results": results})
        if status != 201:
            raise RuntimeError(f"moto refused the CE seed: HTTP {status}")


# --- the front door -------------------------------------------------------------------------------

_TARGET_SERVICE = {"GraniteServiceVersion20100801": "cloudwatch", "Logs_20140328": "logs",
                   "AWSInsightsIndexService": "ce"}
_LAMBDA_ACTIONS = [
    (re.compile(r"^/2019-09-30/functions/[^/]+/provisioned-concurrency$"), "GET", "ListProvisionedConcurrencyConfigs"),
    (re.compile(r"^/2015-03-31/functions/[^/]+/versions$"), "GET", "ListVersionsByFunction"),
    (re.compile(r"^/2015-03-31/functions/[^/]+/aliases$"), "GET", "ListAliases"),
    (re.compile(r"^/2019-09-30/functions/[^/]+/concurrency$"), "GET", "GetFunctionConcurrency"),
    (re.compile(r"^/2015-03-31/functions/[^/]+/configuration$"), "GET", "GetFunctionConfiguration"),
    (re.compile(r"^/2015-03-31/functions/?$"), "GET", "ListFunctions"),
]


def iam_action(method: str, path: str, headers: Any, body: bytes) -> str:
    """The IAM action of one AWS request, from its wire form."""
    target = headers.get("X-Amz-Target", "")
    if target:
        prefix, _, op = target.partition(".")
        return f"{_TARGET_SERVICE.get(prefix, prefix)}:{op}"
    scope = re.search(r"Credential=[^/]+/\d+/[^/]+/([^/]+)/", headers.get("Authorization", ""))
    fields = dict(p.split("=", 1) for p in body.decode(errors="replace").split("&") if "=" in p)
    if scope and "Action" in fields:  # the query protocol (STS, IAM)
        return f"{scope.group(1)}:{fields['Action']}"
    for pattern, verb, op in _LAMBDA_ACTIONS:
        if verb == method and pattern.match(unquote(urlsplit(path).path)):
            return f"lambda:{op}"
    return f"?:{method} {path}"


@dataclass
class FaultPlan:
    """Answer every ``every``-th forwarded call with ``kind`` (throttle | 5xx); 0 disables."""

    every: int = 0
    kind: str = "throttle"
    seen: int = 0
    injected: int = 0


@dataclass
class FrontDoorState:
    faults: FaultPlan = field(default_factory=FaultPlan)
    actions: list[str] = field(default_factory=list)
    provisioned: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # function -> PC configs
    denied: set[str] = field(default_factory=set)  # IAM actions answered with AccessDenied
    lock: threading.Lock = field(default_factory=threading.Lock)


def _error_response(service: str, kind: str) -> tuple[int, dict[str, str], bytes]:
    if kind == "5xx":
        body = {"__type": "InternalFailure", "message": "Internal service error"}
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-ErrorType": "InternalFailure"}
        if service == "cloudwatch":
            headers["x-amzn-query-error"] = "InternalFailure;Receiver"
        return 500, headers, json.dumps(body).encode()
    if service == "lambda":
        body = {"Type": "User", "message": "Rate exceeded", "Reason": "CallerRateLimitExceeded"}
        return 429, {"Content-Type": "application/json", "x-amzn-ErrorType": "TooManyRequestsException",
                     "Retry-After": "1"}, json.dumps(body).encode()
    if service == "ce":
        body = {"__type": "LimitExceededException", "Message": "Rate exceeded"}
        return 400, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(body).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if service == "cloudwatch":
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-query-error": "Throttling;Sender"}
    return 400, headers, json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()


def _denied_response(action: str) -> tuple[int, dict[str, str], bytes]:
    service = action.split(":", 1)[0]
    message = f"User: arn:aws:iam::123456789012:user/test is not authorized to perform: {action}"
    if service == "lambda":
        return 403, {"Content-Type": "application/json", "x-amzn-ErrorType": "AccessDeniedException"}, \
            json.dumps({"Type": "User", "Message": message}).encode()
    if service == "sts":
        body = ("<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
                f"<Message>{message}</Message></Error></ErrorResponse>")
        return 403, {"Content-Type": "text/xml"}, body.encode()
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if service == "cloudwatch":
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-query-error": "AccessDenied;Sender"}
    return 400, headers, json.dumps({"__type": "AccessDeniedException", "message": message}).encode()


class _Handler(BaseHTTPRequestHandler):
    server: _FrontDoorServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        state = self.server.state
        action = iam_action(self.command, self.path, self.headers, body)
        with state.lock:
            state.actions.append(action)
            plan = state.faults
            plan.seen += 1
            fault = plan.every > 0 and plan.seen % plan.every == 0
            plan.injected += int(fault)
        if action in state.denied:
            self._reply(*_denied_response(action))
        elif fault:
            self._reply(*_error_response(action.split(":", 1)[0], plan.kind))
        elif action == "lambda:ListProvisionedConcurrencyConfigs":
            function = unquote(urlsplit(self.path).path).split("/")[3]
            configs = state.provisioned.get(function, [])
            self._reply(200, {"Content-Type": "application/json"},
                        json.dumps({"ProvisionedConcurrencyConfigs": configs}).encode())
        else:
            self._forward(body)

    def _forward(self, body: bytes) -> None:
        conn = http.client.HTTPConnection(self.server.upstream_host, self.server.upstream_port, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
            conn.request(self.command, self.path, body=body or None, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            out = {k: v for k, v in response.getheaders()
                   if k.lower() not in ("transfer-encoding", "connection", "content-length")}
            self._reply(response.status, out, payload)
        finally:
            conn.close()

    def _reply(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _handle


class _FrontDoorServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, state: FrontDoorState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.state = state


class FrontDoor:
    def __init__(self, upstream: str) -> None:
        self.state = FrontDoorState()
        self._server = _FrontDoorServer(upstream, self.state)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        with self.state.lock:
            self.state.faults = FaultPlan()
            self.state.actions.clear()
            self.state.provisioned.clear()
            self.state.denied.clear()

    def inject(self, every: int, kind: str = "throttle") -> FaultPlan:
        with self.state.lock:
            self.state.faults = FaultPlan(every=every, kind=kind)
            return self.state.faults

    def actions(self) -> list[str]:
        with self.state.lock:
            return list(self.state.actions)



# --- shared instance and seeding helpers ------------------------------------------------------------

REGION = "eu-west-1"
ACCOUNT = "123456789012"
TEST_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "INFERWATCH_AWS_MAX_ATTEMPTS": "6"}
_SHARED: dict[str, Any] = {}


def shared() -> tuple[MotoStandIn, FrontDoor]:
    """One moto server and front door per test process (tests use unique names instead of resets)."""
    if not _SHARED:
        moto = MotoStandIn()
        _SHARED["moto"], _SHARED["door"] = moto, FrontDoor(moto.endpoint)
    return _SHARED["moto"], _SHARED["door"]


def boto_client(service: str, endpoint: str, region: str = REGION) -> Any:
    """A plain boto3 client for seeding (the collector builds its own)."""
    import boto3
    from botocore.config import Config

    make: Any = boto3.client  # a plain str service name (boto3's stubs overload on literals)
    return make(service, endpoint_url=endpoint, region_name=region, aws_access_key_id="testing",
                        aws_secret_access_key="testing", config=Config(retries={"mode": "standard",
                                                                                "total_max_attempts": 2}))


def _zip_bytes() -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    return buf.getvalue()


def make_function(endpoint: str, name: str, *, memory_mb: int = 512, arch: str = "x86_64", timeout_s: int = 30,
                  versions: int = 0, aliases: dict[str, str] | None = None, reserved: int | None = None,
                  weights: dict[str, dict[str, float]] | None = None) -> None:
    """Create a Lambda function in moto with published versions, aliases (name -> version) and
    optional reserved concurrency."""
    iam = boto_client("iam", endpoint)
    role = f"arn:aws:iam::{ACCOUNT}:role/inferwatch-test"
    try:
        iam.create_role(RoleName="inferwatch-test", AssumeRolePolicyDocument="{}")
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    lam = boto_client("lambda", endpoint)
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler="handler.handler",
                        Code={"ZipFile": _zip_bytes()}, MemorySize=memory_mb, Architectures=[arch], Timeout=timeout_s)
    for i in range(versions):  # a version is only published when something changed
        lam.update_function_configuration(FunctionName=name, Description=f"build {i + 1}")
        lam.publish_version(FunctionName=name)
    for alias, version in (aliases or {}).items():
        routing = (weights or {}).get(alias)
        extra = {"RoutingConfig": {"AdditionalVersionWeights": routing}} if routing else {}
        lam.create_alias(FunctionName=name, Name=alias, FunctionVersion=version, **extra)
    if reserved is not None:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)


def put_values(endpoint: str, namespace: str, name: str, dimensions: dict[str, str], at: Any,
               values: list[float], counts: list[float] | None = None) -> None:
    """Raw values (so percentiles and percentile ranks work), 150 per call (the AWS limit)."""
    cw = boto_client("cloudwatch", endpoint)
    dims = [{"Name": k, "Value": v} for k, v in dimensions.items()]
    for i in range(0, len(values), 150):
        datum: dict[str, Any] = {"MetricName": name, "Dimensions": dims, "Timestamp": at, "Values": values[i:i + 150]}
        if counts is not None:
            datum["Counts"] = counts[i:i + 150]
        cw.put_metric_data(Namespace=namespace, MetricData=[datum])


def put_log_lines(endpoint: str, group: str, stream: str, events: list[tuple[Any, str]]) -> None:
    """Log events (timestamp, message) into ``group``/``stream``, creating both when missing."""
    logs = boto_client("logs", endpoint)
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    batch = [{"timestamp": int(ts.timestamp() * 1000), "message": msg} for ts, msg in sorted(events,
                                                                                             key=lambda e: e[0])]
    for i in range(0, len(batch), 5000):
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch[i:i + 5000])
