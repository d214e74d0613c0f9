"""The reference service: an ONNX model served from AWS Lambda, Google Cloud Run or the local emulator,
and the thing Inferwatch watches. It depends on numpy, onnxruntime and the probe (``inferwatch_probe``,
which writes its telemetry) only, and imports nothing from the rest of the project, so it ships alone in
a Lambda zip or a Cloud Run image.
"""
