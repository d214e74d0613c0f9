"""What a deployment needs for Inferwatch on AWS Lambda or Cloud Run, as exact steps (``inferwatch setup``):
the baseline's bins file the probe counts over (exported, kept in the store under its sha256), the probe's
environment, log retention, the collector's permissions, the config entry and the check. Pure text builders
over the plan; the command writes the file and applies what it can."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from drift import Baseline
from drift.baseline import NumericColumn

POLICY = "deploy/iam/aws-collector-policy.json"
ROLE = "deploy/iam/gcp-collector-role.yaml"
RETENTION_DAYS = 14  # the collector reads lines within minutes; two weeks leaves room to re-collect


@dataclass(frozen=True, slots=True)
class ProbePlan:
    """One deployment's probe settings and its bins file."""

    deployment: str
    service: str
    model_version: str
    task: str
    baseline_id: str
    baseline: Baseline
    bins_path: Path  # where the command wrote the bins file
    bins_sha256: str
    bins_in_function: str  # where the function reads it

    def variables(self) -> dict[str, str]:
        return {"INFERWATCH_DEPLOYMENT": self.deployment, "INFERWATCH_SERVICE": self.service,
                "INFERWATCH_MODEL_VERSION": self.model_version, "INFERWATCH_TASK": self.task,
                "INFERWATCH_PROBE_BINS": self.bins_in_function}


def bins_summary(plan: ProbePlan) -> list[str]:
    numeric = [n for n, c in plan.baseline.columns.items() if isinstance(c, NumericColumn)]
    features = [n for n in plan.baseline.columns if n.startswith("feature:")]
    return [f"1. Bins file of baseline {plan.baseline_id} (model {plan.model_version}): {plan.bins_path}",
            f"   sha256 {plan.bins_sha256}; {len(plan.baseline.columns)} signals ({len(features)} input features, "
            f"{len(numeric)} numeric); kept in the store, so collected window lines map back onto the baseline.",
            "   These are the bucket bounds of every drift histogram: no custom metric is needed on either cloud."]


def aws_plan(plan: ProbePlan, *, function: str, region: str, log_group: str | None) -> list[str]:
    """The steps for a Lambda function."""
    group = log_group or f"/aws/lambda/{function}"
    env = ",".join(f"{k}={v}" for k, v in plan.variables().items())
    statement = {"Effect": "Allow", "Action": ["logs:FilterLogEvents"],
                 "Resource": f"arn:aws:logs:{region}:*:log-group:{group}:*"}
    return [
        f"Inferwatch on Lambda function {function} ({region})", "", *bins_summary(plan),
        f"   Ship it with the function (zip or layer) at {plan.bins_in_function}.",
        "2. Wrap the handler with the probe (docs/telemetry.md): `make probe-dist` builds the wheel and a layer.",
        "3. The probe's environment (update-function-configuration replaces every variable: merge yours, or run",
        "   `inferwatch setup aws ... --apply`, which merges them):",
        f"   aws lambda update-function-configuration --region {region} --function-name {function} "
        f"--environment {shlex.quote('Variables={' + env + '}')}",
        f"4. Window lines (one per instance and minute) go to {group} with the function's output. Retention:",
        f"   aws logs put-retention-policy --region {region} --log-group-name {group} "
        f"--retention-in-days {RETENTION_DAYS}",
        f"   A line names its function (`function`: aws:{region}:{function}, from the invocation's ARN): the "
        "collector matches it to this deployment by that, whatever the group or the function's name.",
        f"5. Collector permissions: {POLICY}; to scope the log reads to this function:",
        f"   {json.dumps(statement)}",
        "6. inferwatch.toml:", *_toml({"provider": "aws", "region": region, "function": function,
                                       "service": plan.service, **({"log_group": log_group} if log_group else {})}),
        "7. Then: `inferwatch config check` (its log group, and window lines in the last hour).",
    ]


def gcp_plan(plan: ProbePlan, *, service: str, project: str, region: str) -> list[str]:
    """The steps for a Cloud Run service."""
    env = ",".join(f"{k}={v}" for k, v in plan.variables().items())
    return [
        f"Inferwatch on Cloud Run service {service} ({project}, {region})", "", *bins_summary(plan),
        f"   Copy it into the image: COPY {plan.bins_path.name} {plan.bins_in_function}",
        "2. Wrap the app with the probe (docs/telemetry.md): `app = probe.wsgi(app)` or `probe.asgi(app)`.",
        "3. The probe's environment (a new revision):",
        f"   gcloud run services update {service} --project {project} --region {region} "
        f"--update-env-vars {shlex.quote(env)}",
        "4. Window lines go to stdout; Cloud Run sends them to Cloud Logging (_Default bucket, 30 days, the first "
        "50 GiB a month free): nothing to create.",
        f"5. Collector role ({ROLE}, with logging.logEntries.list for the window lines):",
        f"   gcloud iam roles create inferwatchCollector --project={project} --file={ROLE}",
        f"   gcloud projects add-iam-policy-binding {project} "
        f"--member=serviceAccount:inferwatch@{project}.iam.gserviceaccount.com "
        f"--role=projects/{project}/roles/inferwatchCollector",
        "6. inferwatch.toml:", *_toml({"provider": "gcp", "project": project, "region": region,
                                       "service_name": service, "service": plan.service}),
        "7. Then: `inferwatch config check` (the APIs, and window lines in the last hour).",
    ]


def _toml(deployment: Mapping[str, str]) -> list[str]:
    return ["   [collect]", "   cloud_metrics_interval_s = 3600  # the cloud's own metrics hourly: docs/cloud.md",
            "   [[deployments]]", *(f"   {k} = {json.dumps(v)}" for k, v in deployment.items())]
