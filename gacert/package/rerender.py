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
from gacert.package.artifacts import ARTIFACTS_DIR, Artifact
from gacert.package.build import Package, PackageOptions, write_package
from gacert.package.manifest import MANIFEST_NAME, parse_manifest, sha256_file


def kept_artifacts(results_path: str) -> tuple[Artifact, ...]:
    """The artifacts of the package RESULTS.json is in, so that re-rendering keeps them.

    Only files its manifest lists are kept, and only unchanged: evidence that
    changed since packaging is refused rather than carried into a new manifest.
    """
    root = os.path.dirname(results_path)
    try:
        with open(os.path.join(root, MANIFEST_NAME), encoding="utf-8") as handle:
            listed = parse_manifest(handle.read(), os.path.join(root, MANIFEST_NAME))
    except FileNotFoundError:
        return ()
    except (OSError, UnicodeDecodeError) as exc:
        raise OutputError(f"{root}: cannot read {MANIFEST_NAME}: {exc}") from None
    kept = []
    for name, digest in sorted(listed.items()):
        if not name.startswith(ARTIFACTS_DIR + "/"):
            continue
        path = os.path.join(root, name)
        if os.path.islink(path) or not os.path.isfile(path) or sha256_file(path) != digest:
            raise OutputError(f"{path}: changed or missing since the package was made; "
                              f"check it with: gacert verify {root}")
        kept.append(Artifact(path, name))
    return tuple(kept)


def rerender(results_path: str, output_dir: str, options: PackageOptions) -> Package:
    """Read RESULTS.json and write its package into `output_dir`, keeping the
    artifacts of the package it comes from."""
    document = read_results(results_path)
    options = replace(options, kept=kept_artifacts(results_path))
    return write_package(document, results_path, output_dir, options)
