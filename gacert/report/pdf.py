"""The PDF report, printed from the HTML report by WeasyPrint when it is installed.

WeasyPrint is an optional extra (`pip install 'gacert[pdf]'`): it brings
Pango and fonts with it, which a CI runner that only needs a verdict should
not have to install. Without it no PDF is written, not even a placeholder,
and the reason is said on the terminal and in the package metadata.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, NoReturn

from gacert.errors import OutputError
from gacert.fsutil import write_atomic

INSTALL_HINT = "install the PDF extra: pip install 'gacert[pdf]'"
# Printing costs about 0.1 s and 1 MB per check (a 10,000-check report took 15
# minutes and 9 GB): past this, the HTML report is the one to read.
DEFAULT_PDF_MAX_CHECKS = 500


@dataclass(frozen=True)
class PdfStatus:
    written: bool
    engine: str | None  # "WeasyPrint 62.3" when one was found
    reason: str  # why no PDF was written; empty when one was

    def describe(self) -> str:
        if self.written:
            return f"written with {self.engine}"
        return f"not written: {self.reason}"


def find_engine() -> tuple[Any | None, str]:
    """The WeasyPrint module, or None and why it cannot be used."""
    try:
        module = importlib.import_module("weasyprint")
    except ImportError:
        return None, f"no PDF engine is installed ({INSTALL_HINT})"
    except OSError as exc:  # the package is there but Pango or its fonts are not
        return None, f"WeasyPrint is installed but cannot load its libraries: {exc}"
    return module, ""


def _refuse(url: str, *args: Any, **kwargs: Any) -> NoReturn:
    # The HTML is self-contained; anything it links to stays out of the PDF,
    # so that printing never reaches the network or reads local files.
    raise ValueError(f"gacert PDFs load nothing from outside the report: {url}")


def write_pdf(html_text: str, path: str, *, wanted: bool = True, checks: int = 0,
              max_checks: int = DEFAULT_PDF_MAX_CHECKS) -> PdfStatus:
    """Print the HTML to `path`, or say why no PDF was written (`checks`: how many
    checks the report holds, refused over `max_checks`)."""
    if not wanted:
        return PdfStatus(False, None, "skipped (--no-pdf)")
    if checks > max_checks:
        return PdfStatus(False, None, f"the report has {checks:,} checks; a PDF is printed "
                         f"for at most {max_checks:,} (--pdf-max-checks), so read the HTML "
                         "report")
    engine, reason = find_engine()
    if engine is None:
        return PdfStatus(False, None, reason)
    name = f"WeasyPrint {getattr(engine, '__version__', '')}".strip()
    try:
        data = engine.HTML(string=html_text, url_fetcher=_refuse).write_pdf()
    except Exception as exc:  # a rendering bug in the engine must not lose the package
        raise OutputError(f"{path}: {name} could not print the HTML report: {exc}") from None
    write_atomic(path, data)
    return PdfStatus(True, name, "")
