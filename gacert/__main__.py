"""`python -m gacert` runs the command-line interface."""

from __future__ import annotations

from gacert.cli.main import main

if __name__ == "__main__":
    main()
