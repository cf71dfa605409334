"""Comparing two runs: numerics, tolerance policy, verdicts, first divergence and reports."""
