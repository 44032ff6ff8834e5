"""Stage 3, the reports: everything here reads the results document only.

`render` (Jinja2 templates to Markdown and text), `reportdata` (figures the
templates show), `charts` (inline SVG), `html`, `pdf`.
"""
