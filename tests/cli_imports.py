"""Which heavy packages a gacert command imports: the speed of the pre-commit
hooks (validate, test, diff) rests on importing none of them."""

from __future__ import annotations

import ast
import subprocess
import sys

HEAVY = {"jsonschema", "jinja2", "httpx", "websockets", "importlib_resources"}


def heavy_imports(*argv: str) -> list[str]:
    """The heavy packages imported by `gacert ARGV...`, which must exit 0."""
    script = ("import sys\nfrom gacert.cli.main import main\n"
              f"sys.argv = ['gacert', *{list(argv)!r}]\n"
              "try:\n    main()\nexcept SystemExit as exit:\n    assert exit.code == 0, exit.code\n"
              f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {HEAVY!r}))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=True)
    return list(ast.literal_eval(proc.stdout.strip().splitlines()[-1]))
