from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from reference_service import settings as settings_module
from tests.validators.env import validator

DEPLOY = Path(__file__).resolve().parents[2] / "reference_service" / "deploy"
sys.path.insert(0, str(DEPLOY))
import build_zip  # noqa: E402  a script beside the SAM template, not a module of the package


class _CfnLoader(yaml.SafeLoader):  # type: ignore[misc]
    """Reads CloudFormation short-form tags (!Ref, !GetAtt, ...) as plain values."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}


_CfnLoader.add_multi_constructor("!", _tag)


def _load(name: str) -> Any:
    return yaml.load((DEPLOY / name).read_text(), Loader=_CfnLoader)


def test_templates_pass_cfn_lint_with_the_serverless_rules() -> None:
    # `--` ends the rule paths: without it cfn-lint takes the template for one.
    result = subprocess.run([validator("cfn-lint"), "-a", "cfn_lint_serverless.rules", "--",
                             str(DEPLOY / "template.yaml"), str(DEPLOY / "canary-alias.yaml")],
                            capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_serverless_rule_the_template_skips_says_why() -> None:
    text = (DEPLOY / "template.yaml").read_text()
    skipped = re.findall(r"^\s+- ([A-Z]{1,2}\d{4})\s*$", text, flags=re.MULTILINE)
    assert sorted(skipped) == ["ES6000", "WS1000", "WS1004"]
    for rule in skipped:  # a comment right above the entry justifies it
        before = text[:text.index(f"- {rule}\n")].rstrip().splitlines()[-1].strip()
        assert before.startswith("#") and len(before) > 40, rule


def test_sam_template_defaults_and_least_privilege() -> None:
    doc = _load("template.yaml")
    params, res = doc["Parameters"], doc["Resources"]
    assert params["Architecture"]["Default"] == "arm64" and "x86_64" in params["Architecture"]["AllowedValues"]
    fn = res["Function"]["Properties"]
    assert fn["AutoPublishAlias"] == "live" and fn["DeadLetterQueue"]["Type"] == "SQS"
    assert fn["Events"]["Requests"]["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert fn["EventInvokeConfig"]["MaximumRetryAttempts"] == 2
    assert res["RequestQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 3
    statements = res["FunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    for st in statements:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        assert all("*" not in a for a in actions)
        # X-Ray's trace upload has no resource-level permissions: the only Resource "*"
        assert st["Resource"] != "*" or set(actions) == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    assert res["Function"]["Properties"]["Tracing"] == {"Ref": "Tracing"}
    assert params["Tracing"]["Default"] == "PassThrough"
    assert "ManagedPolicyArns" not in res["FunctionRole"]["Properties"]


def test_canary_alias_has_routing_weights() -> None:
    alias = _load("canary-alias.yaml")["Resources"]["WeightedAlias"]["Properties"]
    weights = alias["RoutingConfig"]["If"][1]["AdditionalVersionWeights"][0]
    assert weights["FunctionWeight"] == {"Ref": "CanaryWeight"}


def test_cloud_run_traffic_split_and_settings() -> None:
    svc = _load("cloudrun-service.yaml")
    traffic = svc["spec"]["traffic"]
    assert sum(t["percent"] for t in traffic) == 100 and {t["tag"] for t in traffic} == {"stable", "canary"}
    spec = svc["spec"]["template"]["spec"]
    assert spec["containerConcurrency"] > 1
    env = {e["name"] for e in spec["containers"][0]["env"]}
    sam_env = set(_load("template.yaml")["Resources"]["Function"]["Properties"]["Environment"]["Variables"])
    documented = set(re.findall(r"INFERWATCH_[A-Z_]+", settings_module.__doc__ or ""))
    assert (env | sam_env) <= documented


def test_pubsub_dead_letter_policy() -> None:
    docs = list(yaml.safe_load_all((DEPLOY / "pubsub-dlq.yaml").read_text()))
    push = next(d for d in docs if d["metadata"]["name"] == "inferwatch-scorer-push")
    assert push["spec"]["deadLetterPolicy"]["maxDeliveryAttempts"] >= 5
    assert push["spec"]["pushConfig"]["pushEndpoint"].endswith("/pubsub")


def test_dockerfile_copies_exactly_the_runtime_modules() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    copied = set(re.findall(r"reference_service/(\w+\.py)", text))
    assert copied == set(build_zip.RUNTIME_MODULES)
    assert "HOST=0.0.0.0" in text and '"-m", "reference_service.server_cloudrun"' in text
    assert "COPY probe/inferwatch_probe/*.py /app/inferwatch_probe/" in text  # its telemetry emitter
    pins = (DEPLOY / "requirements.txt").read_text()
    assert re.findall(r"^(\w+)==", pins, re.MULTILINE) == ["numpy", "onnxruntime"]


def test_lambda_zip_runs_alone(tmp_path: Path) -> None:
    """The zip's service code imports nothing from the rest of the project (run isolated, with only
    numpy and onnxruntime from this interpreter's site-packages beside it)."""
    report = build_zip.build(tmp_path / "lambda.zip", deps="none")
    assert report.within_limit and report.files >= len(build_zip.RUNTIME_MODULES) + 4
    with zipfile.ZipFile(tmp_path / "lambda.zip") as zf:
        names = zf.namelist()
        zf.extractall(tmp_path / "unzipped")
    assert not any(n.startswith(("inferwatch/", "collectors/", "reference_service/emulator")) for n in names)
    held = np.load(DEPLOY.parent / "model" / "heldout_v1.npz")["inputs"][:2].tolist()
    site = Path(np.__file__).resolve().parents[1]
    script = (
        "import sys, json; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
        "import reference_service.handler_lambda as h\n"
        "import reference_service.server_cloudrun\n"  # every module the Cloud Run adapter imports ships too
        "class C:\n aws_request_id = 'z'\n def get_remaining_time_in_millis(self): return 3000\n"
        "out = h.handler({'instances': json.loads(sys.argv[3])}, C())\n"
        "product = ('inferwatch', 'collectors', 'drift', 'quality', 'costs', 'alerts', 'readmodels', 'shell')\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in (*product, 'scipy', 'pandas')]\n"
        "import inferwatch_probe\n"
        "result = {'status': out['statusCode'], 'rows': len(out['predictions']), 'bad': bad,\n"
        "          'file': h.__file__.startswith(sys.argv[1]),\n"
        "          'probe': inferwatch_probe.__file__.startswith(sys.argv[1])}\n"
        "print('RESULT', json.dumps(result))\n"
    )
    result = subprocess.run([sys.executable, "-I", "-c", script, str(tmp_path / "unzipped"), str(site),
                             json.dumps(held)],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line is not None, result.stderr
    assert json.loads(line[7:]) == {"status": 200, "rows": 2, "bad": [], "file": True, "probe": True}
    telemetry = [json.loads(ln) for ln in result.stdout.splitlines() if ln.startswith("{")]
    assert [t["Status"] for t in telemetry] == ["ok"] and telemetry[0]["Schema"] == "inferwatch.invocation/2"


@pytest.mark.parametrize("name", ["template.yaml", "canary-alias.yaml", "cloudrun-service.yaml"])
def test_templates_are_valid_yaml(name: str) -> None:
    assert _load(name)
