"""Inferwatch's foundation: the records every package exchanges (``schema``), the validated settings
(``config``), the name rule (``names``), paths (``paths``), errors, and the store (``store``: every SQL
statement of the product). It imports nothing else of the product; everything imports it. The
``inferwatch`` command itself lives in ``shell`` (docs/architecture.md)."""

from __future__ import annotations

__version__ = "0.1.0"
