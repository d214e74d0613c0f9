"""Before you deploy: p95 latency, cold starts and monthly cost of a model on Lambda (x86_64 and arm64,
across memory sizes) and Cloud Run (request- and instance-based billing), projected from what
``inferwatch profile`` measured on this machine, and the configuration it would choose.

Pure arithmetic over a :class:`MeasuredProfile`; every assumption is a named setting and is written out in
plain words by :func:`model_text`, so the output says what the numbers rest on. Lambda's CPU share per
memory size is :mod:`costs.lambda_cpu`; prices are the catalogue's (:mod:`costs.catalogue`) and the
formulas :mod:`costs.pricing`'s. Cloud Run is in :mod:`costs.projection_cloud_run`.
"""

from __future__ import annotations

from dataclasses import dataclass

from costs.catalogue import PriceCatalogue
from costs.lambda_cpu import LAMBDA_MB_PER_VCPU
from costs.projection_cloud_run import CloudRunChoice, CloudRunOption, choose_cloud_run, cloud_run_options
from costs.projection_lambda import LambdaOption, choose_lambda, lambda_options
from costs.projection_model import MeasuredProfile, ProjectionSettings

__all__ = ["CloudRunChoice", "CloudRunOption", "LambdaOption", "MeasuredProfile", "Projection",
           "ProjectionSettings", "model_text", "project"]


@dataclass(frozen=True, slots=True)
class Projection:
    profile: MeasuredProfile
    settings: ProjectionSettings
    lambda_options: tuple[LambdaOption, ...]
    lambda_choices: dict[str, LambdaOption | None]  # per architecture; None when no size holds the model
    cloud_run_options: tuple[CloudRunOption, ...]
    cloud_run_choice: CloudRunChoice | None
    model: tuple[str, ...]  # the model behind it, in plain words


def project(profile: MeasuredProfile, settings: ProjectionSettings, catalogue: PriceCatalogue) -> Projection:
    """Lambda and Cloud Run projected from ``profile`` at ``settings``' traffic.

    Parameters
    ----------
    profile
        What was measured on this machine.
    settings
        Traffic, SLO and the assumptions (each one stated by :func:`model_text`).
    catalogue
        List prices.

    Returns
    -------
    Projection
        Every option, the choice per Lambda architecture and for Cloud Run, and the model in words.

    Raises
    ------
    UnknownPriceError
        When the catalogue has no price for an architecture.
    """
    lam = lambda_options(profile, settings, catalogue)
    run = cloud_run_options(profile, settings, catalogue)
    return Projection(profile, settings, lam, {arch: choose_lambda(lam, arch) for arch in ("x86_64", "arm64")},
                      run, choose_cloud_run(run), model_text(profile, settings, catalogue))


def model_text(profile: MeasuredProfile, settings: ProjectionSettings, catalogue: PriceCatalogue) -> tuple[str, ...]:
    """The model behind the projection, in plain words, with the numbers it used."""
    aws, gcp = catalogue.aws_lambda, catalogue.gcp_cloud_run
    region = settings.lambda_region or aws.default_region
    arm = ("to be as fast as x86_64 (not measured: set --arm64-factor from an arm64 run)"
           if settings.arm64_factor == 1.0
           else f"to take {settings.arm64_factor:g}x the CPU time of x86_64 (--arm64-factor)")
    cold_limit = ("" if settings.max_cold_start_ms is None else
                  f" and whose cold start takes at most {settings.max_cold_start_ms:g} ms (--max-cold-start-ms)")
    return (
        f"Lambda CPU: memory / {LAMBDA_MB_PER_VCPU:,} MB vCPUs (one vCPU at {LAMBDA_MB_PER_VCPU:,} MB, up to 6 at "
        f"10,240 MB). Inference runs single-threaded, as the emulator runs it, so it is no faster above "
        f"{LAMBDA_MB_PER_VCPU:,} MB and {LAMBDA_MB_PER_VCPU:,}/memory times slower below.",
        f"Latency: a request of one row through the service's core (parse, run the model, answer), measured here "
        f"with a full core ({profile.cpu_fraction:.0%} of it CPU time), stands for one vCPU; its CPU part stretches "
        f"with the slowdown, the rest does not. arm64 is taken {arm}. p95 is of warm requests; network and the "
        "platform's own overhead are not in it.",
        f"Cold starts: {settings.cold_start_share:.1%} of requests (--cold-start-share; AWS reports under 1% in "
        f"production), each billing the projected INIT phase (interpreter, imports with the probe's, model read, "
        f"session) at the duration price, as Lambda bills INIT since {aws.init_billing.billed_since}.",
        f"Cost: {settings.rps:g} requests/s for a month of 730 h at list prices (Lambda {region}, checked "
        f"{aws.checked_date}; Cloud Run {settings.cloud_run_region}, checked {gcp.checked_date}), first "
        "duration tier, before free tiers; Lambda bills the mean projected duration rounded up to 1 ms.",
        f"Memory: at least the peak memory measured, {profile.peak_memory_mb:,.0f} MB, plus "
        f"{settings.memory_headroom:.0%} headroom; the choice is the cheapest that meets the p95 SLO of "
        f"{settings.slo_p95_ms:g} ms (--slo-ms){cold_limit}, the fastest of those within 1% of the cheapest.",
        f"Cloud Run: each request runs on one vCPU at the speed measured here; an instance serves vCPUs x "
        f"{profile.throughput_rps:,.0f} requests/s (measured one after another) and instances are added at "
        f"{settings.target_utilization:.0%} of that; concurrency is the most requests in flight an instance "
        f"can take while sharing its vCPUs keeps p95 within the SLO (at most {settings.max_concurrency}). "
        "Request-based billing: each request bills its own time rounded up to 100 ms (an upper bound where "
        "requests overlap) plus the request fee; instance-based: the instances all month.",
    )
