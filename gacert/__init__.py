"""gacert: certify a GA release against its service levels from a YAML policy."""

from __future__ import annotations

__version__ = "0.1.0"
