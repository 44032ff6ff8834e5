"""`gacert render`: the package again, from a stored results document only.

The document is checked against the results schema first, so that a file
that is not gacert results fails with a plain message instead of deep
inside a template. When the results are those of a package, its artifacts
are kept, so that re-rendering a package gives the same package.
"""

from __future__ import annotations

import os
from dataclasses import replace

from gacert.engine.results import read_results
from gacert.errors import OutputError
from gacert.fsutil import open_beneath
from gacert.package.artifacts import ARTIFACTS_DIR, Artifact
from gacert.package.build import Package, PackageOptions, write_package
from gacert.package.manifest import MANIFEST_NAME, parse_manifest
from gacert.package.ownership import unchanged


def kept_artifacts(results_path: str) -> tuple[Artifact, ...]:
    """The artifacts of the package RESULTS.json is in, so that re-rendering keeps them.

    Only files its manifest lists are kept, only unchanged, and each is read
    inside the package without following a link (a package may come from
    anywhere): evidence that changed since packaging is refused rather than
    carried into a new manifest.
    """
    root = os.path.dirname(results_path) or "."
    try:
        with open_beneath(root, MANIFEST_NAME) as handle:
            listed = parse_manifest(handle.read().decode("utf-8"),
                                    os.path.join(root, MANIFEST_NAME))
    except FileNotFoundError:
        return ()
    except (OSError, UnicodeDecodeError) as exc:
        raise OutputError(f"{root}: cannot read {MANIFEST_NAME}: {exc}") from None
    kept = []
    for name, digest in sorted(listed.items()):
        if not name.startswith(ARTIFACTS_DIR + "/"):
            continue
        if not unchanged(root, name, digest):
            raise OutputError(f"{os.path.join(root, name)}: changed, missing or not a plain "
                              "file since the package was made; check it with: "
                              f"gacert verify {root}")
        kept.append(Artifact(os.path.join(root, name), name, beneath=root))
    return tuple(kept)


def rerender(results_path: str, output_dir: str, options: PackageOptions) -> Package:
    """Read RESULTS.json and write its package into `output_dir`, keeping the
    artifacts of the package it comes from."""
    document = read_results(results_path)
    options = replace(options, kept=kept_artifacts(results_path))
    return write_package(document, results_path, output_dir, options)
