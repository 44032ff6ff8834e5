"""`--baseline PREVIOUS`: the results of the last release, read for rules to compare with.

PREVIOUS is a results.json, a package directory or its tarball, read as a
re-grade reads its evidence (gacert.package.regrade.read_evidence): a
package is verified first and refused if anything in it changed, since a
comparison with altered results would certify nothing; a results.json on its
own is checked against the results schema and recorded without a manifest
SHA-256, so a reader of the results can tell the two apart.
"""

from __future__ import annotations

from gacert.engine.baseline import from_results
from gacert.errors import OutputError, UsageError
from gacert.model import Baseline
from gacert.package.regrade import read_evidence

__all__ = ["read_baseline"]

BASELINE_USE = "a comparison with changed results would certify nothing"


def read_baseline(path: str) -> Baseline:
    """The baseline at `path`; a UsageError (exit 2: a bad input on the command line)
    when it cannot be read, is not a results document, or is a package that does
    not verify."""
    try:
        evidence = read_evidence(path, BASELINE_USE)
    except OutputError as exc:
        raise UsageError(f"--baseline: {exc}") from None
    return from_results(evidence.document, path, evidence.origin.results_sha256,
                        evidence.origin.manifest_sha256)
