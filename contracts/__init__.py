"""Shared contracts: every fact several places need, defined once and imported everywhere."""
