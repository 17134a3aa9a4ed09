"""The Consul subsystem: what the program writes to Consul and how it talks to it.

Owns the HTTP client (client.py), the stack's KV entries as one dynamic resource (kv.py over
kv_provider.py, kv_sync.py and kv_payload.py), the failover prepared queries (prepared_query.py
over prepared_query_payload.py) and the check that every key a template reads exists
(template_keys.py). Imports only `components.settings`, `contracts/` and its own modules.
"""
