"""Whether a model file a local deployment names can be served: it exists, onnxruntime loads it, and the
input it names is one of its inputs. Checked when the config is validated, so a bad model is one line
from `config check` and from every verb, before anything starts.

The emulator reads the file again itself (``reference_service.onnx_file``); this is the config's check
only, kept in the foundation, which may not import the function side.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path


@functools.lru_cache(maxsize=32)
def _inputs(path: str, mtime_ns: int, size: int) -> tuple[tuple[str, ...], str | None]:
    """(the model's input names, why it cannot be loaded); cached per file version within a process."""
    import onnxruntime as ort  # ~0.3 s: only configs that name a model file pay for it

    try:
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own Fail/InvalidProtobuf types
        text = str(exc).strip()
        first = text.splitlines()[0][:200] if text else type(exc).__name__
        return (), f"not an ONNX model onnxruntime can load ({first})"
    return tuple(i.name for i in session.get_inputs()), None


def model_file_problem(path: str, input_name: str | None = None) -> str | None:
    """Why ``path`` cannot be served (naming the file), or None when it can."""
    try:
        resolved = Path(path).expanduser()
        stat = resolved.stat()
    except FileNotFoundError:
        return f"{path}: no such file"
    except (OSError, ValueError) as exc:
        return f"{path}: cannot be read ({getattr(exc, 'strerror', None) or exc})"
    if not resolved.is_file():
        return f"{path}: not a file"
    if not os.access(resolved, os.R_OK):
        return f"{path}: not readable (permission denied)"
    names, problem = _inputs(str(resolved.resolve()), stat.st_mtime_ns, stat.st_size)
    if problem is not None:
        return f"{path}: {problem}"
    if input_name is not None and input_name not in names:
        return f"{path}: has no input {input_name!r} (its inputs: {', '.join(names)})"
    return None
