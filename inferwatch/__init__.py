"""Inferwatch: watch ONNX models served from serverless functions."""

from __future__ import annotations

__version__ = "0.1.0"
