"""The webtier policy pack: rules as plain functions (rules/, one module per group of rules) and
their pulumi_policy wrappers (pack.py)."""
