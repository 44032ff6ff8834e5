"""Packaging options, and refusing bad ones before a run fetches anything.

Light on purpose: a run checks its options here first, and imports the
package writer (which brings the report templates) only while its queries run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from gacert.errors import UsageError
from gacert.package.artifacts import Artifact, collect_artifacts


@dataclass(frozen=True)
class PackageOptions:
    policy_path: str | None = None  # the policy file; None: found from the results
    artifacts: tuple[str, ...] = ()  # --include-artifacts
    kept: tuple[Artifact, ...] = ()  # artifacts of the package being re-rendered
    tarball: bool = True  # False with --certify-only
    tarball_path: str | None = None  # None: <directory>.tar.gz beside the directory
    pdf: bool = True  # False with --no-pdf


def tarball_path(output_dir: str, options: PackageOptions) -> str | None:
    """Where the tarball goes; refused inside the package, where it would be an extra file."""
    if not options.tarball:
        return None
    directory = os.path.normpath(os.path.abspath(output_dir))
    if os.path.dirname(directory) == directory:
        raise UsageError(f"--output {output_dir}: a package needs a directory of its own")
    path = options.tarball_path or directory + ".tar.gz"
    if os.path.commonpath([os.path.abspath(path), directory]) == directory:
        raise UsageError(f"--tarball {path}: the tarball cannot be inside the package "
                         f"directory {output_dir}")
    return path if options.tarball_path or os.path.isabs(output_dir) else os.path.relpath(path)


def check_options(output_dir: str, options: PackageOptions) -> list[Artifact]:
    """Refuse bad packaging options before a run spends time fetching."""
    tarball_path(output_dir, options)
    return package_artifacts(options)


def package_artifacts(options: PackageOptions) -> list[Artifact]:
    """The artifacts given and those kept from an earlier package, each name once."""
    given = collect_artifacts(options.artifacts)
    names = {a.name: a for a in given}
    for artifact in options.kept:
        if artifact.name in names:
            raise UsageError(f"--include-artifacts {names[artifact.name].source}: the "
                             f"package already has {artifact.name}")
        names[artifact.name] = artifact
    return [names[name] for name in sorted(names)]
