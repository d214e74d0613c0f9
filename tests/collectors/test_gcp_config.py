"""Cloud Run configuration -> Deployment records, settings -> collectors, and `config check`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from google.cloud import run_v2

from collectors.base import CollectorContext
from collectors.errors import ProviderDataError
from collectors.gcp import check, from_settings
from collectors.gcp_client import connect
from collectors.gcp_run_config import build_deployments, parse_cpu, parse_memory_mb, read_settings
from inferwatch.config import Settings, parse_settings
from inferwatch.errors import ConfigError
from inferwatch.schema import Deployment
from tests.collectors.gcp_standin import (
    FAST_RETRY,
    GET_SERVICE,
    LIST_TIME_SERIES,
    NOW,
    PROJECT,
    REGION,
    REV_A,
    TARGET,
    GcpStandIn,
    demo_revisions,
    demo_service,
    running,
    seed,
)


@pytest.fixture
def standin() -> Iterator[GcpStandIn]:
    with running(GcpStandIn()) as s:
        seed(s)
        yield s


def settings(**extra: object) -> Settings:
    entry = {"provider": "gcp", "project": PROJECT, "region": REGION, "service_name": "scorer", **extra}
    return parse_settings({"deployments": [entry]})


@pytest.mark.parametrize(("text", "vcpu"), [("1", 1.0), ("0.5", 0.5), ("1000m", 1.0), ("250m", 0.25), ("4", 4.0)])
def test_parse_cpu(text: str, vcpu: float) -> None:
    assert parse_cpu(text) == vcpu


@pytest.mark.parametrize(("text", "mb"), [("512Mi", 512), ("1Gi", 1024), ("2G", 1907), ("536870912", 512),
                                          ("32Gi", 32768), ("1.5Gi", 1536)])
def test_parse_memory(text: str, mb: int) -> None:
    assert parse_memory_mb(text) == mb


@pytest.mark.parametrize("bad", ["", "two", "1x", "-1"])
def test_bad_quantities_name_the_value(bad: str) -> None:
    with pytest.raises(ProviderDataError, match="memory limit"):
        parse_memory_mb(bad)
    with pytest.raises(ProviderDataError, match="cpu limit"):
        parse_cpu(bad)


def test_service_and_revisions_become_deployments() -> None:
    records = build_deployments(TARGET, demo_service(), demo_revisions())
    service, rev_a, rev_b = records
    assert service == Deployment(
        id="gcp:europe-west1:scorer", provider="gcp", region=REGION, name="scorer", service="scorer",
        model_version="v2", role="stable", traffic_weight=1.0, memory_mb=1024, cpu=2.0, timeout_s=30.0,
        concurrency=8, min_instances=2, max_instances=20, billing_mode="request", labels={"project": PROJECT})
    assert rev_a == Deployment(
        id=f"gcp:europe-west1:scorer:{REV_A}", provider="gcp", region=REGION, name=f"scorer:{REV_A}",
        service="scorer", model_version="v1", role="stable", traffic_weight=0.9, memory_mb=512, cpu=1.0,
        timeout_s=15.0, concurrency=4, min_instances=1, max_instances=10, billing_mode="instance",
        labels={"project": PROJECT, "revision": REV_A})
    assert (rev_b.role, rev_b.traffic_weight, rev_b.labels["tag"]) == ("canary", 0.1, "canary")
    assert (rev_b.cpu, rev_b.memory_mb, rev_b.min_instances, rev_b.max_instances) == (1.0, 1907, 0, 5)


def test_tagged_revision_without_traffic_is_green_and_defaults_apply() -> None:
    service = demo_service()
    service.traffic_statuses.append(run_v2.TrafficTargetStatus(revision="scorer-00004-new", percent=0, tag="next"))
    template = run_v2.RevisionTemplate()  # nothing set: Cloud Run's defaults
    assert read_settings(template).concurrency == 80 and read_settings(template).billing_mode == "request"
    records = {d.name: d for d in build_deployments(TARGET, service, demo_revisions())}
    green = records["scorer:scorer-00004-new"]
    assert (green.role, green.traffic_weight) == ("green", 0.0)
    assert green.memory_mb == 1024  # unknown revision: the service template's settings


def test_from_settings_builds_one_collector_per_service(tmp_path: Path) -> None:
    s = parse_settings({"deployments": [
        {"provider": "gcp", "project": PROJECT, "region": REGION, "service_name": "scorer", "slo_p99_ms": 200},
        {"provider": "gcp", "project": PROJECT, "region": "us-central1", "service_name": "ranker",
         "billing_export_table": "billing-proj.billing.gcp_billing_export_resource_v1_0A1B2C"},
        {"provider": "local", "name": "scorer-v1"},
    ]})
    collectors = from_settings(s, CollectorContext(home=tmp_path))
    assert [c.name for c in collectors] == [f"gcp:{PROJECT}:{REGION}:scorer", f"gcp:{PROJECT}:us-central1:ranker"]
    assert collectors[0].defaults.slo_p99_ms == 200 and collectors[1].billing_table is not None
    assert (collectors[0].step_s, collectors[0].lateness_s, collectors[0].lookback_s) == (60, 300, 3600)


def test_from_settings_rejects_names_that_would_break_a_filter(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"deployments\[0\]\.service_name") as info:
        from_settings(settings(service_name='scorer" OR x="y'), CollectorContext(home=tmp_path))
    assert info.value.field == "deployments[0].service_name"


def test_collector_from_settings_reads_the_standin(standin: GcpStandIn, tmp_path: Path) -> None:
    ctx = CollectorContext(home=tmp_path, endpoints={"gcp": standin.address})
    (collector,) = from_settings(settings(role="canary"), ctx)
    batch = collector.collect(NOW, None)
    assert batch.collector == f"gcp:{PROJECT}:{REGION}:scorer" and len(batch.points) > 50
    assert batch.deployments[0].role == "canary"


def test_check_ok(standin: GcpStandIn, tmp_path: Path) -> None:
    ctx = CollectorContext(home=tmp_path, endpoints={"gcp": standin.address})
    (result,) = check(settings(), ctx, retry=FAST_RETRY)
    assert result.ok and result.scope == f"{PROJECT}/{REGION}/scorer" and "answer" in result.detail
    probe = standin.calls_of(LIST_TIME_SERIES)
    assert len(probe) == 1 and probe[0].page_size == 1


def test_check_reports_missing_permissions(standin: GcpStandIn, tmp_path: Path) -> None:
    standin.denied = {GET_SERVICE, LIST_TIME_SERIES}
    ctx = CollectorContext(home=tmp_path, endpoints={"gcp": standin.address})
    (result,) = check(settings(), ctx, retry=FAST_RETRY)
    assert not result.ok
    assert result.missing_permissions == ("run.services.get", "monitoring.timeSeries.list")
    assert "grant run.services.get, monitoring.timeSeries.list" in result.detail
    assert "Traceback" not in result.detail


def test_check_reports_an_unknown_service(standin: GcpStandIn, tmp_path: Path) -> None:
    ctx = CollectorContext(home=tmp_path, endpoints={"gcp": standin.address})
    (result,) = check(settings(service_name="nope"), ctx, retry=FAST_RETRY)
    assert not result.ok and "NotFound" in result.detail and result.missing_permissions == ()


def test_check_reports_missing_credentials(tmp_path: Path) -> None:
    ctx = CollectorContext(home=tmp_path, env={"GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "missing.json")})
    (result,) = check(settings(), ctx)
    assert not result.ok
    assert "no usable Google credentials" in result.detail and "missing.json" in result.detail
    assert "Traceback" not in result.detail


def test_revision_timeout_and_limits_come_from_the_revision() -> None:
    (rev_a, _) = demo_revisions()
    s = read_settings(rev_a)
    assert (s.timeout_s, s.cpu, s.memory_mb, s.model_version) == (15.0, 1.0, 512, "v1")
    rev_a.timeout = timedelta(0)
    assert read_settings(rev_a).timeout_s is None


@pytest.mark.parametrize(("content", "reason"), [("{not json", "cannot read"),
                                                 ('{"type": "external_account"}', "'external_account'")])
def test_check_refuses_unreadable_or_unvetted_credential_files(tmp_path: Path, content: str, reason: str) -> None:
    key = tmp_path / "key.json"
    key.write_text(content, encoding="utf-8")
    ctx = CollectorContext(home=tmp_path, env={"GOOGLE_APPLICATION_CREDENTIALS": str(key)})
    (result,) = check(settings(), ctx)
    assert not result.ok and reason in result.detail


def test_production_clients_use_the_key_file_and_quota_project(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    email = f"inferwatch@{PROJECT}.iam.gserviceaccount.com"
    (tmp_path / "sa.json").write_text(json.dumps({
        "type": "service_account", "project_id": PROJECT, "private_key_id": "k1", "private_key": pem,
        "client_email": email, "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token"}))
    env = {"GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "sa.json"), "INFERWATCH_GCP_QUOTA_PROJECT": "quota-proj"}
    clients = connect(CollectorContext(home=tmp_path, env=env))  # builds only: no network until a call
    assert (clients.credentials.service_account_email, clients.credentials.quota_project_id) == (email, "quota-proj")
    for client, host in ((clients.monitoring, "monitoring.googleapis.com:443"),
                         (clients.services, "run.googleapis.com:443"), (clients.revisions, "run.googleapis.com:443")):
        # the transport's own copy (with self-signed JWT enabled) keeps the quota project
        assert client.transport._credentials.quota_project_id == "quota-proj"
        assert client.transport._host == host
