#!/usr/bin/env bash
# The demo, end to end on a fresh machine: install Prometheus and gacert,
# generate a GA day of metrics (a clean week of baseline plus the GA day,
# ending now), backfill it into a real Prometheus on 127.0.0.1, run
# `gacert run policies/ga.yaml` over the GA day, and show where the report is.
# `--watch` runs `gacert watch` instead: the last hour replayed in about 20
# seconds, a snapshot every 10 minutes of it, then the package.
# Extra arguments go to `python -m gacert.demo` (see --help there).
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup
exec .venv/bin/python -m gacert.demo "$@"
