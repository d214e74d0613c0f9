"""How Inferwatch talks to AWS, declared once: clients for one account and region (profile, assumed
role, retries, timeouts) and the translation of botocore's errors into :mod:`collectors.errors`.

Every AWS reader (:mod:`collectors.aws_cloudwatch`, :mod:`collectors.aws_logs`,
:mod:`collectors.aws_lambda_config`, :mod:`collectors.aws_billing`) makes its calls through
:func:`call_aws`, so botocore errors never leave this module untranslated. Retries are botocore's own
(``standard`` or ``adaptive`` mode, ``total_max_attempts`` attempts, timeouts), never a hand-written
loop. Environment (from ``CollectorContext.env``): ``INFERWATCH_AWS_RETRY_MODE`` (standard | adaptive),
``INFERWATCH_AWS_MAX_ATTEMPTS`` (attempts per call, default 5), and the usual ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN`` when no profile is configured.

boto3 and botocore are imported where a client is built or a call is made, never at import: commands
that touch no cloud (and the provider registry, which imports this package) do not pay for them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from collectors.base import CollectorContext
from collectors.errors import (
    CollectorError,
    ProviderAuthError,
    ProviderDataError,
    ProviderThrottledError,
    ProviderUnavailableError,
)
from inferwatch.config import AwsDeploymentConfig

PROVIDER = "aws"
_AUTH_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException",
    "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException", "AuthFailure", "SignatureDoesNotMatch",
    "MissingAuthenticationToken", "IncompleteSignature", "InvalidSignatureException", "OptInRequired",
})
_THROTTLE_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException", "RequestLimitExceeded",
    "LimitExceededException", "RequestThrottled", "RequestThrottledException", "SlowDown",
})


def action_name(service: str, operation: str) -> str:
    """``("lambda", "list_aliases")`` -> ``lambda:ListAliases`` (the IAM action)."""
    return f"{service}:{''.join(part.capitalize() for part in operation.split('_'))}"


def translate_error(exc: Exception, action: str) -> CollectorError:
    """The collector error for a botocore error raised by ``action``; the caller raises it ``from exc``."""
    from botocore import exceptions as bx  # only once a call failed (see module doc)

    if isinstance(exc, bx.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        message = f"{action}: {code}: {error.get('Message', '')}".rstrip(": ")
        if code in _AUTH_CODES or status == 403:
            return ProviderAuthError(message, provider=PROVIDER, action=action)
        if code in _THROTTLE_CODES or status == 429:
            retry_after = str(exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("retry-after", ""))
            return ProviderThrottledError(f"{message} (still throttled after retries)", provider=PROVIDER,
                                          retry_after_s=float(retry_after) if retry_after.isdigit() else None)
        if status >= 500:
            return ProviderUnavailableError(message, provider=PROVIDER)
        return ProviderDataError(message, provider=PROVIDER)
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError | bx.ProfileNotFound | bx.NoRegionError):
        return ProviderAuthError(f"{action}: {exc}", provider=PROVIDER, action=action)
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError | bx.ReadTimeoutError
                  | bx.ConnectionClosedError | bx.HTTPClientError):
        return ProviderUnavailableError(f"{action}: {exc}", provider=PROVIDER)
    return ProviderDataError(f"{action}: {type(exc).__name__}: {exc}", provider=PROVIDER)


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """How clients are built for one account and region."""

    region: str
    profile: str | None = None
    role_arn: str | None = None
    endpoint_url: str | None = None  # tests: the moto stand-in
    retry_mode: str = "standard"
    max_attempts: int = 5
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_config(cls, cfg: AwsDeploymentConfig, ctx: CollectorContext) -> ClientSettings:
        env = ctx.env
        mode = env.get("INFERWATCH_AWS_RETRY_MODE", "standard")
        if mode not in ("standard", "adaptive"):
            raise ProviderDataError(f"INFERWATCH_AWS_RETRY_MODE must be standard or adaptive, got {mode!r}",
                                    provider=PROVIDER)
        raw_attempts = env.get("INFERWATCH_AWS_MAX_ATTEMPTS", "5")
        if not raw_attempts.isdigit() or not 1 <= int(raw_attempts) <= 20:
            raise ProviderDataError(f"INFERWATCH_AWS_MAX_ATTEMPTS must be an integer in 1..20, got {raw_attempts!r}",
                                    provider=PROVIDER)
        creds = {k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN") if env.get(k)}
        return cls(region=cfg.region, profile=cfg.profile, role_arn=cfg.role_arn, endpoint_url=ctx.endpoints.get("aws"),
                   retry_mode=mode, max_attempts=int(raw_attempts), credentials=creds)

    @property
    def group_key(self) -> tuple[str, str | None, str | None]:
        return self.region, self.profile, self.role_arn


Hook = tuple[str, Callable[..., Any]]
_LOADER: list[Any] = []  # botocore's loader of service models, made once per process
_LOADER_LOCK = threading.Lock()


def _core_session() -> Any:
    """A botocore session sharing one loader of service models with every other: each account and
    region has sessions of its own (its credentials), and without this each parsed the API models of
    its services again, 16 MB and a third of a second of CPU per account-region (1.3 MB shared)."""
    import botocore.loaders  # only once a client is built (see module doc)
    import botocore.session  # the same

    with _LOADER_LOCK:
        if not _LOADER:
            _LOADER.append(botocore.loaders.create_loader())
        loader = _LOADER[0]
    session = botocore.session.get_session()
    session.register_component("data_loader", loader)
    return session


class AwsClients:
    """Builds and caches boto3 clients; assumes ``role_arn`` when set, renewing before expiry.

    ``hooks`` are botocore event handlers registered on every client built (tests record the
    actions called with ``("before-call", handler)``).
    """

    def __init__(self, settings: ClientSettings, hooks: Sequence[Hook] = ()) -> None:
        self.settings = settings
        self.hooks = list(hooks)
        self._clients: dict[str, Any] = {}
        self._session_made: Any = None  # one session (one AssumeRole) for every client of the account
        self._role_expires: datetime | None = None
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        with self._lock:
            if self._role_expires is not None and datetime.now(UTC) > self._role_expires:
                self._clients.clear()
                self._session_made, self._role_expires = None, None
            if service not in self._clients:
                if self._session_made is None:
                    self._session_made = self._session()
                self._clients[service] = self._build(service)
            return self._clients[service]

    def _session(self) -> Any:
        import boto3  # only once a client is built (see module doc)
        from botocore.exceptions import BotoCoreError, ClientError  # the same

        s = self.settings
        try:
            if s.profile:
                session = boto3.Session(profile_name=s.profile, region_name=s.region, botocore_session=_core_session())
            else:
                session = boto3.Session(
                    region_name=s.region, aws_access_key_id=s.credentials.get("AWS_ACCESS_KEY_ID"),
                    aws_secret_access_key=s.credentials.get("AWS_SECRET_ACCESS_KEY"),
                    aws_session_token=s.credentials.get("AWS_SESSION_TOKEN"), botocore_session=_core_session())
            if not s.role_arn:
                return session
            sts = self._register(session.client("sts", config=self._config(), endpoint_url=s.endpoint_url))
            creds = sts.assume_role(RoleArn=s.role_arn, RoleSessionName="inferwatch-collector")["Credentials"]
        except (BotoCoreError, ClientError) as exc:
            raise translate_error(exc, "sts:AssumeRole" if s.role_arn else "session") from exc
        self._role_expires = creds["Expiration"].astimezone(UTC) - timedelta(minutes=5)
        return boto3.Session(region_name=s.region, aws_access_key_id=creds["AccessKeyId"],
                             aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"],
                             botocore_session=_core_session())

    def _config(self, region: str | None = None) -> Any:
        from botocore.config import Config  # only once a client is built (see module doc)

        s = self.settings
        return Config(region_name=region or s.region, connect_timeout=s.connect_timeout_s,
                      read_timeout=s.read_timeout_s,
                      retries={"mode": s.retry_mode, "total_max_attempts": s.max_attempts})  # type: ignore[arg-type]

    def _build(self, service: str) -> Any:
        region = "us-east-1" if service == "ce" else None  # Cost Explorer has one endpoint
        client = self._session_made.client(service, config=self._config(region),
                                           endpoint_url=self.settings.endpoint_url)
        return self._register(client)

    def _register(self, client: Any) -> Any:
        for event, handler in self.hooks:
            client.meta.events.register(event, handler)
        return client


def call_aws(client: Any, service: str, operation: str, kwargs: Mapping[str, Any], *,
             absent: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Make one API call; a botocore error becomes a collector error raised from it. ``absent`` is the
    answer when the resource does not exist (``ResourceNotFoundException``) instead of an error."""
    from botocore.exceptions import BotoCoreError, ClientError  # only once a call is made (see module doc)

    action = action_name(service, operation)
    try:
        response: dict[str, Any] = getattr(client, operation)(**kwargs)
    except ClientError as exc:
        if absent is not None and exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return dict(absent)
        raise translate_error(exc, action) from exc
    except BotoCoreError as exc:
        raise translate_error(exc, action) from exc
    return response
