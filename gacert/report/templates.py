"""Which template renders each report: a policy's own, else the built-in one.

Light on purpose (no Jinja2): a run resolves its templates before it fetches,
and imports the renderer only while its queries run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from gacert.document import ResultsDocument
from gacert.errors import OutputError
from gacert.model import Policy

# Report kind -> built-in template. `html` is the page around the GA Day
# report once it is rendered to HTML (see gacert.report.html).
BUILTIN_TEMPLATES = {"report": "report.md.j2", "ga_day": "ga_day.md.j2",
                     "html": "ga_day.html.j2", "email": "email.txt.j2"}


@dataclass(frozen=True)
class Templates:
    """Which file renders each report kind: a policy's own, else the built-in."""

    overrides: Mapping[str, str] = field(default_factory=dict)  # kind -> file path

    def name(self, kind: str) -> str:
        return f"policy/{kind}" if kind in self.overrides else BUILTIN_TEMPLATES[kind]


def resolve_templates(document: ResultsDocument, results_dir: str = "") -> Templates:
    """The templates a results document names, found where they were or in a package.

    A path is relative to the working directory of the run; when the file is
    not there, the copy that packaging stored in `templates/` beside the
    results is used, so that a package re-renders anywhere.
    """
    found: dict[str, str] = {}
    for kind, path in (document["policy"].get("report_templates") or {}).items():
        if kind not in BUILTIN_TEMPLATES:
            raise OutputError(f"results name a template for unknown report kind {kind!r} "
                              f"(known: {', '.join(BUILTIN_TEMPLATES)})")
        packaged = os.path.join(results_dir, "templates", os.path.basename(path))
        candidates = [path, packaged] if results_dir else [path]
        existing = next((c for c in candidates if os.path.isfile(c)), None)
        if existing is None:
            raise OutputError(f"report template {path} ({kind}) named by the policy is not "
                              f"found (looked at {' and '.join(candidates)})")
        found[kind] = existing
    return Templates(found)


def policy_templates(policy: Policy) -> Templates:
    """The policy's own templates, their paths made relative to the working directory
    (they are written relative to the policy file)."""
    base = os.path.dirname(policy.path)
    return Templates({kind: os.path.normpath(os.path.join(base, path))
                      for kind, path in policy.report_templates.items()})
