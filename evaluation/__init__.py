"""Evaluation harness: benchmark loaders, haystack builder, runner, reports and baselines."""
