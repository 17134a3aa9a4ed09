"""The Consul TLS rule: a launch whose user data starts a Consul agent turns the agent's TLS on.

The agent config is written at boot, so the user data is where the stack's choice shows: it must
write the servers' CA certificate and put the TLS block (auto_encrypt, verify_outgoing,
verify_server_hostname) beside the agent's config. Production runs it mandatory, so a production
stack cannot ship agents that would send RPC in the clear or trust any server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from contracts import consul_agent
from policy import rules

# The agent's config dir being written is what says "this boot runs a Consul agent".
AGENT_CONFIG = re.compile(re.escape(consul_agent.CONFIG_DIR) + r"/[\w.-]+\.hcl")


def consul_agent_tls(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type not in rules.LAUNCHES:
        return []
    problems = []
    for key, text in rules.user_data_texts(props):
        if not AGENT_CONFIG.search(text):
            continue
        missing = [what for what, path in (("the CA certificate", consul_agent.CA_FILE),
                                           ("the TLS block", consul_agent.TLS_CONFIG))
                   if not re.search(r"[>\s]" + re.escape(path) + r"\b", text)]
        if missing:
            problems.append(f"{key} starts a Consul agent without TLS (it does not write "
                            f"{' or '.join(missing)}): set webtier:consul.tls.enabled: true and "
                            "webtier:consul.tls.caCert")
    return sorted(set(problems))
