"""Collector errors. SDK errors (botocore, google.api_core) are translated inside the provider
module that called the SDK, always ``raise ... from exc``; they never leave a provider.

    CollectorError                 (provider)
    ├── ProviderAuthError          credentials missing, expired or lacking a permission (action)
    ├── ProviderThrottledError     the API kept throttling after retries (retry_after_s)
    ├── ProviderUnavailableError   5xx, timeouts, unreachable endpoint
    └── ProviderDataError          an answer the collector cannot use
"""

from __future__ import annotations


class CollectorError(Exception):
    def __init__(self, message: str, *, provider: str) -> None:
        super().__init__(message)
        self.provider = provider


class ProviderAuthError(CollectorError):
    def __init__(self, message: str, *, provider: str, action: str | None = None) -> None:
        super().__init__(message, provider=provider)
        self.action = action


class ProviderThrottledError(CollectorError):
    def __init__(self, message: str, *, provider: str, retry_after_s: float | None = None) -> None:
        super().__init__(message, provider=provider)
        self.retry_after_s = retry_after_s


class ProviderUnavailableError(CollectorError):
    pass


class ProviderDataError(CollectorError):
    pass
