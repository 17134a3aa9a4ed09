"""The webtier policy pack: rules as plain functions (rules.py) and their pulumi_policy wrappers."""
