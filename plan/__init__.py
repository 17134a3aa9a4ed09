"""The offline plan: what a stack would create or change, from its committed config alone."""
