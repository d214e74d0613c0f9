"""Errors of the costs package.

    CostError                    base: the UI shows a banner, the CLI prints one line
    ├── PriceCatalogueError      a price file or a ``[prices]`` override is invalid; ``field`` names it
    ├── UnknownPriceError        no price exists for a provider, architecture or billing mode
    ├── DeploymentConfigError    a deployment lacks what its cost needs (e.g. memory size); ``deployment``
    ├── PowerTuningImportError   an AWS Lambda Power Tuning result JSON is malformed; ``field`` names it
    ├── ReportInputError         a week label or report option is invalid; ``field`` names it
    └── ProjectionInputError     a deployment projection's option is invalid; ``field`` names the option
"""

from __future__ import annotations


class CostError(Exception):
    """Base of the costs package's errors."""


class PriceCatalogueError(CostError):
    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class UnknownPriceError(CostError):
    def __init__(self, message: str, *, provider: str, key: str) -> None:
        super().__init__(message)
        self.provider = provider
        self.key = key


class DeploymentConfigError(CostError):
    def __init__(self, message: str, *, deployment: str, field: str) -> None:
        super().__init__(message)
        self.deployment = deployment
        self.field = field


class PowerTuningImportError(CostError):
    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class ReportInputError(CostError):
    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class ProjectionInputError(CostError):
    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field
