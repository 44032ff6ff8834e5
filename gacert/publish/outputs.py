"""Every CI output of a finished run, in one call for each command that makes
results (`gacert run` today, a watch mode later)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TextIO

from gacert.publish import github
from gacert.publish.junit import write_junit
from gacert.publish.summary import RunSummary


@dataclass(frozen=True)
class PublishOptions:
    junit: str | None = None  # where to write JUnit XML, if anywhere


def publish_outputs(summary: RunSummary, options: PublishOptions,
                    environ: Mapping[str, str], annotations: TextIO) -> None:
    """Write JUnit XML when asked, and GitHub's files and annotations inside Actions.

    `annotations` is the stream for workflow commands: standard output, unless
    that carries JSON (the runner reads commands on both streams).
    """
    if options.junit:
        write_junit(options.junit, summary.document)
    if github.in_github_actions(environ):
        github.publish(summary, environ, annotations)
