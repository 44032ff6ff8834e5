"""Test data shared by the tests of gacert in CI and pre-commit."""

from __future__ import annotations

# The smallest valid policy: one Prometheus check.
MINIMAL_POLICY = """\
version: 1
name: gate
sources:
  prom: {type: prometheus, url: "http://localhost:9090"}
checks:
  - id: up
    source: prom
    query: min(up{job="api"})
    pass: value == 1
"""

# Short probe runs of the shipped policy against the demo servers: five
# reconnects 20 ms apart, five dashboard loads.
SHORT_PROBES = {"TARS_WS_ITERATIONS": "5", "TARS_WS_INTERVAL": "20ms",
                "TARS_DASHBOARD_REQUESTS": "5"}
