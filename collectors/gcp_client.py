"""How Inferwatch talks to Google Cloud, declared once: credentials (Application Default Credentials or
a key file), the clients (or, in tests, a plaintext channel to the stand-in), the retry policy, and
the translation of ``google.api_core`` errors into :mod:`collectors.errors`.

Every Google Cloud reader (:mod:`collectors.gcp_monitoring`, :mod:`collectors.gcp_run_config`,
:mod:`collectors.gcp_billing`) imports what it needs from here; their SDK errors never leave them
untranslated. Environment: ``GOOGLE_APPLICATION_CREDENTIALS`` and ``INFERWATCH_GCP_QUOTA_PROJECT``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import google.auth
import grpc
from google.api_core import exceptions as gexc
from google.api_core import retry as gretry
from google.auth import exceptions as auth_exc
from google.cloud import monitoring_v3, run_v2
from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client
from google.cloud.logging_v2.services.logging_service_v2.transports import LoggingServiceV2GrpcTransport
from google.cloud.monitoring_v3.services.metric_service.transports import MetricServiceGrpcTransport
from google.cloud.run_v2.services.revisions.transports import RevisionsGrpcTransport
from google.cloud.run_v2.services.services.transports import ServicesGrpcTransport
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account

from collectors.base import CollectorContext
from collectors.errors import (
    CollectorError,
    ProviderAuthError,
    ProviderDataError,
    ProviderThrottledError,
    ProviderUnavailableError,
)
from inferwatch.schema import deployment_id

PROVIDER = "gcp"
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
QUOTA_PROJECT_ENV = "INFERWATCH_GCP_QUOTA_PROJECT"
# What a Google client call can raise: readers catch these and raise translate_error(...) from them.
GOOGLE_ERRORS = (gexc.GoogleAPICallError, gexc.RetryError, auth_exc.GoogleAuthError)
NotFound = gexc.NotFound


@dataclass(frozen=True, slots=True)
class Target:
    """One Cloud Run service: the scope of every query."""

    project: str
    region: str
    service: str

    @property
    def service_id(self) -> str:
        return deployment_id(PROVIDER, self.region, self.service)

    def revision_id(self, revision: str) -> str:
        return deployment_id(PROVIDER, self.region, f"{self.service}:{revision}")


@dataclass(frozen=True, slots=True)
class GcpClients:
    monitoring: Any  # monitoring_v3.MetricServiceClient
    services: Any  # run_v2.ServicesClient
    revisions: Any  # run_v2.RevisionsClient
    credentials: Any = None
    logging: Any = None  # LoggingServiceV2Client: the probe's window lines


def load_credentials(env: Mapping[str, str]) -> Any:
    """Application Default Credentials; a key file named by ``GOOGLE_APPLICATION_CREDENTIALS`` in
    ``env`` wins (a service-account key or an authorized-user file; other types are refused rather
    than loaded unvalidated)."""

    path = env.get("GOOGLE_APPLICATION_CREDENTIALS")
    try:
        if path:
            return _credentials_from_file(Path(path))
        credentials, _ = google.auth.default(scopes=list(SCOPES))
    except auth_exc.GoogleAuthError as exc:
        raise ProviderAuthError(f"no usable Google credentials: {exc} (run `gcloud auth application-default "
                                "login` or set GOOGLE_APPLICATION_CREDENTIALS)", provider=PROVIDER) from exc
    return credentials


def _credentials_from_file(path: Path) -> Any:
    hint = "set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file"
    try:
        kind = json.loads(path.read_text(encoding="utf-8")).get("type")
    except (OSError, ValueError, AttributeError) as exc:
        raise ProviderAuthError(f"no usable Google credentials: cannot read {path} ({exc}); {hint}",
                                provider=PROVIDER) from exc
    if kind == "service_account":
        return service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
            str(path), scopes=list(SCOPES))
    if kind == "authorized_user":
        return user_credentials.Credentials.from_authorized_user_file(  # type: ignore[no-untyped-call]
            str(path), scopes=list(SCOPES))
    raise ProviderAuthError(f"no usable Google credentials: {path} holds credentials of type {kind!r}; {hint}",
                            provider=PROVIDER)


def connect(ctx: CollectorContext) -> GcpClients:
    """The real clients, on ADC or (tests) a plaintext channel to ``ctx.endpoints["gcp"]``."""
    address = ctx.endpoints.get(PROVIDER)
    if address:
        channel = grpc.insecure_channel(address)
        return GcpClients(monitoring_v3.MetricServiceClient(transport=MetricServiceGrpcTransport(channel=channel)),
                          run_v2.ServicesClient(transport=ServicesGrpcTransport(channel=channel)),
                          run_v2.RevisionsClient(transport=RevisionsGrpcTransport(channel=channel)),
                          logging=LoggingServiceV2Client(transport=LoggingServiceV2GrpcTransport(channel=channel)))
    credentials = load_credentials(ctx.env)
    quota_project = ctx.env.get(QUOTA_PROJECT_ENV)
    if quota_project and hasattr(credentials, "with_quota_project"):
        # The clients apply client_options.quota_project_id only to credentials they load themselves.
        credentials = credentials.with_quota_project(quota_project)
    return GcpClients(monitoring_v3.MetricServiceClient(credentials=credentials),
                      run_v2.ServicesClient(credentials=credentials),
                      run_v2.RevisionsClient(credentials=credentials), credentials,
                      LoggingServiceV2Client(credentials=credentials))


def default_retry(*, initial_s: float = 1.0, maximum_s: float = 30.0, deadline_s: float = 120.0) -> gretry.Retry:
    """Exponential backoff with jitter on quota (429) and unavailability (503), bounded by ``deadline_s``.

    The generated client retries only ServiceUnavailable for ListTimeSeries; quota errors are what a
    busy project actually sees, so they are retried too."""
    return gretry.Retry(
        predicate=is_retryable,
        initial=initial_s, maximum=maximum_s, multiplier=2.0, timeout=deadline_s,
    )


def is_retryable(exc: Exception) -> bool:
    """Quota (429) and unavailability (503), except a 503 that only wraps a credentials failure
    (gRPC reports a token refresh error as UNAVAILABLE "Getting metadata from plugin failed"):
    retrying that cannot help."""
    if isinstance(exc, gexc.ResourceExhausted):
        return True
    return isinstance(exc, gexc.ServiceUnavailable) and not _is_credentials_failure(exc)


def _is_credentials_failure(exc: BaseException) -> bool:
    return isinstance(exc, gexc.ServiceUnavailable) and "metadata from plugin" in str(exc)


def translate_error(exc: Exception, *, action: str, permission: str) -> CollectorError:
    """A ``CollectorError`` for a Google SDK error; raise it ``from exc``."""
    cause: BaseException = exc
    if isinstance(exc, gexc.RetryError) and exc.cause is not None:
        cause = exc.cause
    what = f"{action}: {type(cause).__name__}: {getattr(cause, 'message', None) or cause}"
    if isinstance(cause, gexc.PermissionDenied | gexc.Unauthenticated | auth_exc.GoogleAuthError) or \
            _is_credentials_failure(cause):
        return ProviderAuthError(f"{what} (needs {permission})", provider=PROVIDER, action=permission)
    if isinstance(cause, gexc.ResourceExhausted):
        return ProviderThrottledError(f"{what} (still throttled after backoff)", provider=PROVIDER)
    if isinstance(cause, gexc.ServiceUnavailable | gexc.DeadlineExceeded | gexc.InternalServerError
                  | gexc.RetryError | gexc.GatewayTimeout):
        return ProviderUnavailableError(what, provider=PROVIDER)
    return ProviderDataError(what, provider=PROVIDER)
