"""Benchmarks: our pipeline against a faithful re-implementation of the study's code."""
