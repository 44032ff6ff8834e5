"""The command source: real programs (Python and /bin/sh), run as the fetch stage runs them."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from probe_support import as_json, build, fetch_all, measure, value

from gacert.errors import SourceError
from gacert.sources import source_type
from gacert.sources.command import CommandSource, parse_json_output

PY = sys.executable


def python(code: str, **settings: Any) -> dict[str, Any]:
    return {"command": [PY, "-c", code], **settings}


def test_exit_code_duration_and_printed_json_are_measured() -> None:
    code = "import json, time; time.sleep(0.1); print(json.dumps({'rows': 3, 'ms': 1.5}))"
    fetched = fetch_all(build("command", python(code)), "exit_code", "duration", "json.rows")
    assert [value(f) for f in fetched][0::2] == [0.0, 3.0]
    assert 100.0 <= (value(fetched[1]) or 0.0) < 2000.0
    assert fetched[0].measurements["json"] == {"rows": 3, "ms": 1.5}


def test_a_failing_exit_code_is_data_not_an_error() -> None:
    fetched = measure("command", python("import sys; print('not ready', file=sys.stderr); "
                                        "sys.exit(3)"), "exit_code")
    assert value(fetched) == 3.0
    assert fetched.evidence["stderr"] == "not ready\n"


def test_json_on_the_last_line_after_log_lines_is_found() -> None:
    code = "print('connecting...'); print('done'); print('[{\"Execution Time\": 0.42}]')"
    fetched = measure("command", python(code), 'json.0."Execution Time"')
    assert value(fetched) == 0.42


def test_reading_json_the_command_did_not_print_says_so() -> None:
    with pytest.raises(SourceError, match=r"query 'json\.rows' reads the JSON the command "
                                          r"prints, but it printed none \(exit code 0; stdout "
                                          r"began 'hello'\)"):
        measure("command", python("print('hello')"), "json.rows")


def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    # The shell starts a grandchild that would outlive a kill of the shell alone.
    script = f"sleep 30 & echo $! > {pid_file}; wait"
    with pytest.raises(SourceError, match=r"timed out after 0\.3 s; its process group was "
                                          r"killed"):
        measure("command", {"command": script, "shell": True, "timeout": "300ms"}, "exit_code")
    grandchild = int(pid_file.read_text())
    assert not _alive(grandchild)


def test_nothing_the_command_started_outlives_it(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = f"sleep 30 > /dev/null 2>&1 & echo $! > {pid_file}; exit 0"
    assert value(measure("command", {"command": script, "shell": True}, "exit_code")) == 0.0
    assert not _alive(int(pid_file.read_text()))


def _alive(pid: int) -> bool:
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        # A killed child of an exited shell is reaped by init a moment later.
        if _is_zombie(pid):
            return False
        time.sleep(0.02)
    return True


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_no_shell_unless_asked() -> None:
    literal = measure("command", {"command": ["/bin/echo", "$HOME"]}, "exit_code")
    assert literal.evidence["stdout"] == "$HOME\n"
    expanded = measure("command", {"command": "echo $HOME", "shell": True}, "exit_code")
    assert expanded.evidence["stdout"] == os.environ["HOME"] + "\n"


def test_env_and_working_directory(tmp_path: Path) -> None:
    code = "import json, os; print(json.dumps({'cwd': os.getcwd(), 'v': os.environ['PROBE_V']}))"
    fetched = measure("command", python(code, env={"PROBE_V": "41"}, cwd=str(tmp_path)),
                      "json.v")
    assert value(fetched) == 41.0
    assert fetched.measurements["json"]["cwd"] == str(tmp_path)


def test_without_inherit_env_only_the_given_variables_are_set() -> None:
    code = "import json, os; print(json.dumps(sorted(k for k in os.environ if k != 'LC_CTYPE')))"
    fetched = measure("command", python(code, env={"ONLY": "1"}, inherit_env=False), "exit_code")
    assert fetched.measurements["json"] == ["ONLY"]


def test_secrets_in_arguments_and_env_stay_out_of_results() -> None:
    secret = "pg-pa55-5ecret"
    source = build("command", {"command": ["/bin/true", f"postgresql://app:{secret}@db/tars",
                                           f"--password={secret}",
                                           f"https://api.example/v1?access_token={secret}",
                                           f"--url=http://bob:pa/ss-{secret}@h"],
                               "env": {"PGPASSWORD": secret}})
    fetched = fetch_all(source, "exit_code")[0]
    assert secret not in source.endpoint
    assert secret not in as_json(fetched)
    assert fetched.evidence["env"] == ["PGPASSWORD"]
    assert fetched.evidence["command"][1:] == [
        "postgresql://db/tars", "--password=REDACTED",
        "https://api.example/v1?access_token=REDACTED", "--url=http://h"]


def test_a_shell_command_shows_its_urls_redacted() -> None:
    source = build("command", {"command": "curl -fsS 'https://h/?token=t0k' | wc -c",
                               "shell": True})
    assert source.endpoint == "command: curl -fsS 'https://h/?token=REDACTED' | wc -c"


def test_a_program_that_does_not_exist_is_an_error() -> None:
    with pytest.raises(SourceError, match="cannot run 'no-such-program-x': not found"):
        measure("command", {"command": ["no-such-program-x"]}, "exit_code")


def test_several_checks_share_one_run(tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    code = f"open({str(counter)!r}, 'a').write('x'); print('{{\"a\": 1, \"b\": 2}}')"
    fetched = fetch_all(build("command", python(code)), "json.a", "json.b", "exit_code")
    assert counter.read_text() == "x"
    assert set(fetched[0].measurements) == set(source_type("command").measurements)


def test_output_beyond_max_output_is_cut_but_read() -> None:
    code = "import sys; sys.stdout.write('y' * 300000)"
    fetched = measure("command", python(code, max_output=2048), "exit_code")
    assert value(fetched) == 0.0
    assert fetched.evidence["output_truncated"] is True


@pytest.mark.parametrize(("stdout", "parsed"), [
    pytest.param('{"a": 1}', {"a": 1}, id="the whole output"),
    pytest.param("log\n42\n", 42, id="a number on the last line"),
    pytest.param("no json here", None, id="no JSON at all"),
    pytest.param("", None, id="nothing printed"),
])
def test_parse_json_output(stdout: str, parsed: Any) -> None:
    assert parse_json_output(stdout) == parsed


@pytest.mark.parametrize(("settings", "message"), [
    pytest.param({"command": "kubectl get pods"}, "command is a list of arguments",
                 id="a string without shell: true"),
    pytest.param({"command": []}, "command must be a non-empty list", id="an empty command"),
    pytest.param({"command": ["echo"], "shell": True}, "with shell: true, command is one "
                 "string", id="a list with shell: true"),
    pytest.param({"command": ["true"], "env": {"A=B": "x"}}, "is not an environment variable",
                 id="a bad variable name"),
    pytest.param({"command": ["true"], "timeout": "forever"}, "timeout: 'forever' is not a "
                 "duration", id="a bad timeout"),
])
def test_impossible_settings_are_refused_before_any_io(settings: dict[str, Any],
                                                       message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CommandSource.from_settings("cmd", settings)
