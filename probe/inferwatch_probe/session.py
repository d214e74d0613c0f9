"""Model-call wrapping: an onnxruntime ``InferenceSession`` whose ``run`` also records, into the current
invocation, the prediction per the task and the inputs that produced it.

The session is used exactly as before (``run`` has onnxruntime's signature and returns its outputs
untouched; every other attribute is the session's own). Outside an invocation ``run`` records nothing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from inferwatch_probe.inputs import batch_from_feed
from inferwatch_probe.measure import CURRENT, Health, InstanceState
from inferwatch_probe.outputs import OutputPlan


class SessionOwner(Protocol):
    task: str
    health: Health
    feature_names: tuple[str, ...] | None
    instance: InstanceState


class ProbedSession:
    def __init__(self, owner: SessionOwner, session: Any, *, feature_names: Sequence[str] | None = None,
                 label_output: str | None = None, score_output: str | None = None,
                 value_output: str | None = None) -> None:
        self._owner = owner
        self._session = session
        self._input_names = tuple(i.name for i in session.get_inputs())
        outputs = session.get_outputs()
        self._output_names = [o.name for o in outputs]
        self._plan = OutputPlan.from_outputs(owner.task, outputs, label_output=label_output,
                                             score_output=score_output, value_output=value_output)
        self._feature_names = tuple(feature_names) if feature_names is not None else owner.feature_names

    @property
    def session(self) -> Any:
        """The wrapped onnxruntime session."""
        return self._session

    def run(self, output_names: Sequence[str] | None, input_feed: Mapping[str, Any], run_options: Any = None
            ) -> list[Any]:
        t0 = time.perf_counter()
        outputs: list[Any] = self._session.run(output_names, input_feed, run_options)
        ms = (time.perf_counter() - t0) * 1000
        try:
            self._observe(output_names, input_feed, outputs, ms)
        except Exception as exc:  # noqa: BLE001 - the probe never fails the handler
            self._owner.health.fail("session.run (reading the outputs)", exc)
        return outputs

    def _observe(self, output_names: Sequence[str] | None, input_feed: Mapping[str, Any], outputs: list[Any],
                 ms: float) -> None:
        owner = self._owner
        if owner.instance.first_inference_ms is None:
            owner.instance.note_inference(ms)
        inv = CURRENT.get()
        if inv is None or inv.owner is not owner:
            return
        inv.inference_ms += ms
        prediction = self._plan.predictions(owner.task, output_names or self._output_names, outputs)
        try:
            prediction.features = batch_from_feed(input_feed, self._input_names, self._feature_names)
        except Exception as exc:  # noqa: BLE001 - outputs are still recorded
            owner.health.fail("session.run (reading the inputs)", exc)
        inv.predictions.append(prediction)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)
