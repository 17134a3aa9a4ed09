"""The web tier's Pulumi components, and the pure builders they use."""
