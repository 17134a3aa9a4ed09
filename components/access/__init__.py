"""The access subsystem: who may read what.

Owns the instance role and its IAM documents (instance_role.py over iam_policies.py), the node
secrets in SSM (node_secrets.py) and the release bucket with its role-only read (release_bucket.py).
Imports only `components.settings`, `contracts/` and its own modules.
"""
