"""The command line: options parsed into typed objects, errors turned into
messages and exit codes in one place (`main`), terminal output (`summary`)."""

from gacert.cli.main import cli, main

__all__ = ["cli", "main"]
