"""Stage 4, the certification package: report files, results, the policy,
metadata, `MANIFEST.sha256` and a reproducible tarball; verification and
re-rendering of a package made elsewhere.

Modules: `build`, `manifest`, `tarball`, `artifacts`, `verify`, `rerender`.
"""
