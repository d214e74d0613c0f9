"""Collectors: one module per source, each returning the normalized records of inferwatch.schema."""
