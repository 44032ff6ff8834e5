"""The HTML report: the GA Day Markdown rendered by markdown-it-py into a page.

The page is one self-contained file: its CSS is inline and its charts are
inline SVG, so it reads the same offline, attached to an email or printed.
Raw HTML in the Markdown is not recognised (markdown-it's `html` option is
off) and data was escaped as Markdown text by the templates, so nothing that
comes from data can become markup; images are off too, so that the page never
loads anything from elsewhere.

A fenced block with the info string `gacert-chart CHECK_ID` marks where the
chart of a range check goes; the page template draws it there.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markupsafe import Markup

from gacert.document import ResultsDocument
from gacert.report.charts import Chart, build_charts, build_trend_charts
from gacert.report.render import STATUS_BADGES, Templates, complete, render_template

CHART_FENCE = "gacert-chart"
# Chart markers in the rendered body. Data cannot produce one: every `<` from
# data is escaped to `&lt;` by the Markdown renderer.
_CHART_MARK = re.compile(r"<!--gacert-chart:([a-z][a-z0-9_]*)-->")
_BADGE_CLASS = {badge: status for status, badge in STATUS_BADGES.items()}
_HIGHLIGHT = re.compile("|".join(
    [*(re.escape(b) for b in STATUS_BADGES.values()), r"\[FILL IN:[^\]]*\]", r"\bN/A\b"]))


@dataclass(frozen=True)
class Heading:
    id: str
    text: str


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "typographer": False})
    md.enable("table").disable("image")
    assert isinstance(md.renderer, RendererHTML)
    default_fence = md.renderer.rules["fence"]

    def fence(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
        info = tokens[idx].info.split()
        if len(info) == 2 and info[0] == CHART_FENCE:
            return f"<!--gacert-chart:{info[1]}-->\n" if re.fullmatch(
                r"[a-z][a-z0-9_]*", info[1]) else ""
        return str(default_fence(tokens, idx, options, env))

    md.add_render_rule("fence", fence)
    return md


def markdown_to_html(text: str) -> tuple[str, list[Heading]]:
    """Body HTML (with chart markers) and the level-2 headings, for a contents list."""
    md = _markdown()
    tokens = md.parse(text)
    headings = _add_heading_ids(tokens)
    for token in tokens:
        if token.type == "inline" and token.children:
            token.children = _highlight(token.children)
    return md.renderer.render(tokens, md.options, {}), headings


def _add_heading_ids(tokens: list[Token]) -> list[Heading]:
    """Give every heading a stable id (a slug of its text) for links."""
    used: set[str] = set()
    headings: list[Heading] = []
    for index, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        text = "".join(c.content for c in tokens[index + 1].children or ()
                       if c.type in ("text", "code_inline"))
        slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
        unique, n = slug, 1
        while unique in used:
            n += 1
            unique = f"{slug}-{n}"
        used.add(unique)
        token.attrSet("id", unique)
        if token.tag == "h2":
            headings.append(Heading(unique, text))
    return headings


def _highlight(children: list[Token]) -> list[Token]:
    """Wrap status badges, N/A and [FILL IN: ...] in spans that the CSS colours."""
    result: list[Token] = []
    for child in children:
        if child.type != "text" or not _HIGHLIGHT.search(child.content):
            result.append(child)
            continue
        position = 0
        for match in _HIGHLIGHT.finditer(child.content):
            result.append(_text(child.content[position:match.start()]))
            result.append(_span(match.group(0)))
            position = match.end()
        result.append(_text(child.content[position:]))
    return [t for t in result if t.type != "text" or t.content]


def _text(content: str) -> Token:
    return Token("text", "", 0, content=content)


def _span(found: str) -> Token:
    # A badge shows as a coloured word: emoji fonts are missing on many servers
    # and in PDF engines, where they would print as empty boxes.
    shown = found
    if found in _BADGE_CLASS:
        css = f"status status-{_BADGE_CLASS[found].replace('_', '-')}"
        shown = found.split(" ", 1)[1]
    elif found == "N/A":
        css = "na"
    else:
        css = "fill-in"
    return Token("html_inline", "", 0,
                 content=f'<span class="{css}">{html.escape(shown)}</span>')


def body_parts(body: str, charts: Mapping[str, Chart]) -> tuple[list[dict[str, Any]], set[str]]:
    """The body cut at its chart markers: HTML parts and charts in order, and the
    ids of the charts placed. A marker for a check without a chart is dropped."""
    parts: list[dict[str, Any]] = []
    placed: set[str] = set()
    position = 0
    for match in _CHART_MARK.finditer(body):
        parts.append({"html": Markup(body[position:match.start()])})
        chart = charts.get(match.group(1))
        if chart is not None and chart.id not in placed:
            parts.append({"chart": chart})
            placed.add(chart.id)
        position = match.end()
    parts.append({"html": Markup(body[position:])})
    return parts, placed


def render_html(document: ResultsDocument, markdown_text: str,
                templates: Templates | None = None) -> str:
    """The self-contained HTML page of a rendered GA Day report."""
    document = complete(document)
    body, headings = markdown_to_html(markdown_text)
    charts = build_charts(document) + build_trend_charts(document)
    parts, placed = body_parts(body, {c.id: c for c in charts})
    return render_template(
        "html", templates or Templates(), html=True, doc=document, parts=parts,
        headings=headings, charts=charts,
        other_charts=[c for c in charts if c.id not in placed])
