"""Costs: price catalogues as data, cost per prediction, advice with evidence, the weekly cost report.

Pure computation over the store's records: no cloud SDK, no clock, no environment reads.
"""
