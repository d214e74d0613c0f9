"""The reference service: an ONNX classifier served from AWS Lambda, Google Cloud Run or the local
emulator, and the thing Inferwatch watches. It depends on numpy and onnxruntime only and imports nothing
from the rest of the project, so it ships alone in a Lambda zip or a Cloud Run image.

``PROCESS_START_S`` is taken first thing when the package is imported (before the adapters, numpy or
onnxruntime), so an instance's InitMs covers interpreter-level imports and the model load.
"""

from __future__ import annotations

import time

PROCESS_START_S: float = time.time()
PROCESS_START_PERF_S: float = time.perf_counter()
