"""The Consul ACL policies and tokens a stack needs: `python -m consul_tokens`."""
