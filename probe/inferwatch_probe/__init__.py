"""inferwatch_probe: measure your own model inside its handler, for Inferwatch.

::

    from inferwatch_probe import Probe
    probe = Probe(deployment="wine", model_version="wine-1", task="multiclass")  # or INFERWATCH_* env
    session = probe.session("model.onnx", feature_names=[...])   # loads and times it; or wrap your own session

    @probe.lambda_handler                                         # Cloud Run: probe.wsgi(app) / probe.asgi(app)
    def handler(event, context):                                 # anything else: with probe.invocation() as inv:
        x = parse(event)                                         # raise probe.ClientError(...) -> client_error
        return {"statusCode": 200, "body": json.dumps(session.run(None, {"input": x})[0].tolist())}

Lines are specified in docs/telemetry.md. Depends on the standard library and numpy only.
"""

from __future__ import annotations

import time

IMPORTED_AT_S: float = time.time()  # first: the init breakdown's "process start -> probe import"
__version__ = "0.1.0"

from inferwatch_probe.errors import BinsFileError, ClientError, ProbeConfigError, ProbeError
from inferwatch_probe.measure import Invocation
from inferwatch_probe.probe import Probe
from inferwatch_probe.session import ProbedSession

__all__ = ["BinsFileError", "ClientError", "Invocation", "Probe", "ProbeConfigError", "ProbeError", "ProbedSession",
           "__version__"]
