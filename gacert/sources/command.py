"""The `command` source: run a program once and measure its exit code, duration and JSON.

The program runs from an argument list, without a shell unless `shell: true`
asks for one, in its own process group, with a timeout: on timeout the whole
group (the program and whatever it started) gets SIGTERM, then SIGKILL a
second later, and the check is an `error` naming the timeout. When the
program ends, anything it left running in its group is killed too, so that
no process of a certification run outlives it.

Measurements: `exit_code`, `duration` (ms, start to exit), `json` (what the
program printed on stdout, parsed as JSON: the whole output, else its last
non-empty line; null when neither parses). A non-zero exit code is data that
rules judge (`pass: exit_code == 0`), not an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shlex
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from gacert.errors import SourceError
from gacert.model import Fetched, Query
from gacert.redact import REDACTED, redact_text, redact_url
from gacert.sources.probe import Measured, OncePerRun, answer, ms, now, timestamp
from gacert.sources.settings import Settings

DEFAULT_TIMEOUT = 60.0
KILL_GRACE_SECONDS = 1.0
MAX_OUTPUT = 1024 * 1024
# Results keep the end of each stream, where errors and summaries usually are.
EVIDENCE_TAIL_CHARS = 4000
# A reason quotes the last lines of stderr, at most this much of them.
DETAIL_LINES = 3
DETAIL_CHARS = 300
_SECRET_OPTION = re.compile(r"^(--?[\w-]*(?:password|passwd|token|secret|key)[\w-]*=).+$",
                            re.IGNORECASE)


@dataclass(frozen=True)
class CommandConfig:
    argv: tuple[str, ...]  # with shell: one string, run by /bin/sh -c
    shell: bool
    timeout: float
    env: Mapping[str, str]  # added to (or, without inherit_env, instead of) our environment
    inherit_env: bool
    cwd: str | None
    max_output: int

    @property
    def shown(self) -> str:
        """The command for people: secrets in urls and --password=... options hidden."""
        words = [_redact_arg(a) for a in self.argv]
        text = words[0] if self.shell else shlex.join(words)
        return text if len(text) <= 200 else text[:197] + "..."


@dataclass(frozen=True)
class _Ran:
    exit_code: int
    seconds: float
    stdout: bytes
    stderr: bytes
    truncated: bool


class CommandSource(OncePerRun[CommandConfig, Measured]):
    """One program, run once per run; see the module docstring."""

    type_name: ClassVar[str] = "command"

    @classmethod
    def from_settings(cls, source_id: str, settings: Mapping[str, Any]) -> CommandSource:
        return cls(source_id, read_config(Settings(settings)))

    @property
    def endpoint(self) -> str:
        return f"command: {self._config.shown}"

    async def fetch(self, query: Query) -> Fetched:
        measured = await self._once.get()
        root = query.text.strip().split(".", 1)[0]
        if root == "json" and measured.measurements["json"] is None:
            raise SourceError(f"{self._label}: query {query.text.strip()!r} reads the JSON the "
                              f"command prints, but it printed none (exit code "
                              f"{measured.measurements['exit_code']}; stdout "
                              f"{_describe(measured.evidence['stdout'])})")
        return replace(answer(self._label, query, measured), detail=failure_detail(measured))

    @property
    def _label(self) -> str:
        return f"command source {self._id!r} ({self._config.shown})"

    async def _work(self) -> Measured:
        started_at = now()
        ran = await self._run()
        stdout = ran.stdout.decode("utf-8", errors="replace")
        measurements = {"exit_code": ran.exit_code, "duration": ms(ran.seconds),
                        "json": parse_json_output(stdout)}
        evidence = {
            "command": [_redact_arg(a) for a in self._config.argv],
            "shell": self._config.shell, "cwd": self._config.cwd,
            "env": sorted(self._config.env), "timeout_s": self._config.timeout,
            "started_at": timestamp(started_at), "exit_code": ran.exit_code,
            "duration_ms": ms(ran.seconds), "output_truncated": ran.truncated,
            # A program may print the url or token it was given: never recorded.
            "stdout": redact_text(_tail(stdout)),
            "stderr": redact_text(_tail(ran.stderr.decode("utf-8", errors="replace"))),
        }
        return Measured(measurements=measurements, evidence=evidence, at=now())

    async def _run(self) -> _Ran:
        config = self._config
        process = await self._start()
        began = time.perf_counter()
        try:
            async with asyncio.timeout(config.timeout):
                (out, out_cut), (err, err_cut), code = await asyncio.gather(
                    _read(process.stdout, config.max_output),
                    _read(process.stderr, config.max_output), process.wait())
        except TimeoutError:
            await _kill_group(process)
            raise SourceError(f"{self._label}: timed out after {config.timeout:g} s; its "
                              "process group was killed") from None
        finally:
            _kill_leftovers(process.pid)
        return _Ran(code, time.perf_counter() - began, out, err, out_cut or err_cut)

    async def _start(self) -> asyncio.subprocess.Process:
        config = self._config
        if config.cwd is not None and not os.path.isdir(config.cwd):
            raise SourceError(f"{self._label}: cwd {config.cwd!r} is not a directory")
        env = {**(os.environ if config.inherit_env else {}), **config.env}
        options: dict[str, Any] = {
            "stdin": asyncio.subprocess.DEVNULL, "stdout": asyncio.subprocess.PIPE,
            "stderr": asyncio.subprocess.PIPE, "cwd": config.cwd, "env": env,
            # Its own process group, so that a timeout kills everything it started.
            "start_new_session": True}
        try:
            if config.shell:
                return await asyncio.create_subprocess_shell(config.argv[0], **options)
            return await asyncio.create_subprocess_exec(*config.argv, **options)
        except (FileNotFoundError, PermissionError) as exc:
            what = "not found (is it installed and on PATH?)" \
                if isinstance(exc, FileNotFoundError) else "not executable"
            raise SourceError(f"{self._label}: cannot run {config.argv[0]!r}: {what}") from None
        except OSError as exc:
            raise SourceError(f"{self._label}: cannot run {config.argv[0]!r}: {exc}") from None


# -- settings ---------------------------------------------------------------------------


def read_config(settings: Settings) -> CommandConfig:
    """Check and read the settings of a command source; no I/O."""
    shell = settings.flag("shell")
    argv = _argv(settings.raw("command"), shell)
    env = settings.string_map("env")
    for name in env:
        if not name or "=" in name or "\0" in name:
            raise ValueError(f"env: {name!r} is not an environment variable name")
    return CommandConfig(
        argv=argv, shell=shell, timeout=settings.seconds("timeout", DEFAULT_TIMEOUT),
        env=env, inherit_env=settings.flag("inherit_env", True), cwd=settings.text("cwd"),
        max_output=settings.integer("max_output", MAX_OUTPUT, 1024, 64 * MAX_OUTPUT))


def _argv(raw: Any, shell: bool) -> tuple[str, ...]:
    if shell:
        if not isinstance(raw, str) or not raw.strip():
            raise ValueError("with shell: true, command is one string of shell code, "
                             "e.g. \"kubectl get pods | wc -l\"")
        return (raw,)
    if isinstance(raw, str):
        raise ValueError("command is a list of arguments, e.g. [kubectl, rollout, status, "
                         "deployment/tars]; set shell: true to run a string through a shell")
    if not isinstance(raw, list) or not raw or not all(isinstance(a, str) for a in raw) \
            or not raw[0]:
        raise ValueError("command must be a non-empty list of strings, e.g. "
                         "[kubectl, rollout, status, deployment/tars]")
    return tuple(raw)


# -- running ----------------------------------------------------------------------------


async def _read(stream: asyncio.StreamReader | None, limit: int) -> tuple[bytes, bool]:
    """Everything the stream gives, kept up to `limit` bytes; read on so the program
    never blocks on a full pipe."""
    if stream is None:
        return b"", False
    kept, total = bytearray(), 0
    while chunk := await stream.read(65536):
        total += len(chunk)
        if len(kept) < limit:
            kept += chunk[: limit - len(kept)]
    return bytes(kept), total > limit


async def _kill_group(process: asyncio.subprocess.Process) -> None:
    _signal_group(process.pid, signal.SIGTERM)
    try:
        async with asyncio.timeout(KILL_GRACE_SECONDS):
            await process.wait()
    except TimeoutError:
        _signal_group(process.pid, signal.SIGKILL)
        await process.wait()


def _kill_leftovers(group: int) -> None:
    _signal_group(group, signal.SIGKILL)


def _signal_group(group: int, signum: signal.Signals) -> None:
    # The group is gone once every process in it has exited: nothing to do then.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signum)


# -- output -----------------------------------------------------------------------------


def parse_json_output(stdout: str) -> Any:
    """The JSON a program printed: all of stdout, else its last non-empty line, else None."""
    text = stdout.strip()
    if not text:
        return None
    candidates = [text]
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        candidates.append(lines[-1])
    for candidate in candidates:
        with contextlib.suppress(ValueError):
            return json.loads(candidate)
    return None


def failure_detail(measured: Measured) -> str:
    """What a check on this command adds to its reason when it does not pass: the exit
    code and the last lines of stderr, secrets redacted, bounded."""
    code = measured.evidence["exit_code"]
    lines = [line.strip() for line in str(measured.evidence["stderr"]).splitlines()
             if line.strip()][-DETAIL_LINES:]
    if not lines:
        return f"the command exited with code {code} and wrote nothing to stderr"
    tail = " | ".join(" ".join(_redact_arg(word) for word in line.split()) for line in lines)
    if len(tail) > DETAIL_CHARS:
        tail = "..." + tail[-(DETAIL_CHARS - 3):]
    return f"the command exited with code {code}; its stderr ends: {tail}"


def _tail(text: str) -> str:
    return text if len(text) <= EVIDENCE_TAIL_CHARS else "..." + text[-EVIDENCE_TAIL_CHARS:]


def _describe(text: str) -> str:
    if not text.strip():
        return "was empty"
    first = text.strip().splitlines()[0]
    return f"began {first[:80]!r}"


def _redact_arg(arg: str) -> str:
    """An argument for people: a url (`--url=https://h/?token=...` too) through the one
    url redaction, a `--password=...` option without its value, and the urls and
    `Bearer` tokens inside a shell command line."""
    if "://" in arg and " " not in arg:
        return redact_url(arg)
    return redact_text(_SECRET_OPTION.sub(rf"\1{REDACTED}", arg))
