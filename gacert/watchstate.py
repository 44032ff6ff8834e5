"""The state of a watch (DIR/watch-state.json) and how a snapshot is committed.

The state says what a watch has done, so that `gacert watch` on the same
directory resumes where it stopped: the window and the clock, the snapshots
taken (with each gate check's status and value, for the trend), what every
probe measured so far, which gate checks are failing (to notify once per
change), the notifications sent, and each session of the watch (a session
that ends without saying so was killed).

A snapshot is committed in three steps, so that a kill at any moment leaves
no half snapshot and no duplicate:

1. the snapshot is written to `snapshots/.snapshot_NNNN.json.pending`;
2. the state, recording snapshot NNNN with its SHA-256, replaces the old one
   (atomically: this is the commit);
3. the pending file is renamed to `snapshots/snapshot_NNNN.json`.

On resume, a pending file the state records is renamed (step 3 is
finished); one it does not record is removed (the snapshot was not
committed, its number is taken again). Every write is atomic
(`gacert.fsutil`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from gacert import __version__
from gacert.document import NotificationDocument
from gacert.errors import OutputError, UsageError
from gacert.fsutil import write_atomic
from gacert.sources.window import ProbeRecord
from gacert.timestamps import format_timestamp, parse_timestamp

STATE_NAME = "watch-state.json"
SNAPSHOTS_DIR = "snapshots"
STATE_VERSION = 1


def snapshot_name(number: int) -> str:
    return f"snapshot_{number:04d}.json"


@dataclass(frozen=True)
class Clock:
    """Window time from wall time: the window's `start` was at wall time `epoch`, and
    window time runs `speed` times as fast (1 for a live GA day; more to replay a past
    window in a demo or a test)."""

    start: datetime
    epoch: datetime
    speed: float = 1.0

    def now(self, wall: datetime) -> datetime:
        return self.start + (wall - self.epoch) * self.speed

    def seconds_until(self, moment: datetime, wall: datetime) -> float:
        """Wall seconds until window time `moment`."""
        return (moment - self.now(wall)).total_seconds() / self.speed


@dataclass
class WatchState:
    """What a watch has done; see the module docstring."""

    policy_path: str
    policy_sha256: str
    overrides: list[str]
    start: datetime
    end: datetime
    interval_seconds: float
    clock: Clock
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    probes: dict[str, ProbeRecord] = field(default_factory=dict)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    alerting: dict[str, str] = field(default_factory=dict)
    notifications: list[NotificationDocument] = field(default_factory=list)
    finished: dict[str, Any] | None = None

    @property
    def last_number(self) -> int:
        return self.snapshots[-1]["number"] if self.snapshots else 0

    @property
    def last_status(self) -> str | None:
        return self.snapshots[-1]["status"] if self.snapshots else None

    def to_json(self) -> dict[str, Any]:
        return {
            "state_version": STATE_VERSION, "gacert_version": __version__,
            "policy": {"path": self.policy_path, "sha256": self.policy_sha256},
            "overrides": self.overrides,
            "window": {"start": format_timestamp(self.start), "end": format_timestamp(self.end)},
            "interval_seconds": self.interval_seconds,
            "clock": {"epoch": format_timestamp(self.clock.epoch), "speed": self.clock.speed},
            "snapshots": self.snapshots,
            "probes": {sid: record.to_json() for sid, record in self.probes.items()},
            "sessions": self.sessions, "alerting": self.alerting,
            "notifications": self.notifications, "finished": self.finished,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], path: str) -> WatchState:
        if data.get("state_version") != STATE_VERSION:
            raise OutputError(f"{path}: not a gacert watch state of version {STATE_VERSION}")
        start = parse_timestamp(data["window"]["start"], "window.start")
        clock = data["clock"]
        return cls(
            policy_path=data["policy"]["path"], policy_sha256=data["policy"]["sha256"],
            overrides=list(data["overrides"]), start=start,
            end=parse_timestamp(data["window"]["end"], "window.end"),
            interval_seconds=float(data["interval_seconds"]),
            clock=Clock(start, parse_timestamp(clock["epoch"], "clock.epoch"),
                        float(clock["speed"])),
            snapshots=list(data["snapshots"]),
            probes={sid: ProbeRecord.from_json(r) for sid, r in data["probes"].items()},
            sessions=list(data["sessions"]), alerting=dict(data["alerting"]),
            notifications=list(data["notifications"]), finished=data["finished"])


class StateFile:
    """The state and the snapshots of one output directory."""

    def __init__(self, output_dir: str) -> None:
        self.output_dir = output_dir
        self.path = os.path.join(output_dir, STATE_NAME)
        self.snapshots_dir = os.path.join(output_dir, SNAPSHOTS_DIR)

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def load(self) -> WatchState:
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
            return WatchState.from_json(data, self.path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise OutputError(f"{self.path}: cannot read the watch state: {exc}") from None

    def save(self, state: WatchState) -> None:
        text = json.dumps(state.to_json(), ensure_ascii=False, allow_nan=False)
        write_atomic(self.path, (text + "\n").encode("utf-8"))

    def snapshot_path(self, number: int) -> str:
        return os.path.join(self.snapshots_dir, snapshot_name(number))

    def _pending_path(self, number: int) -> str:
        return os.path.join(self.snapshots_dir, f".{snapshot_name(number)}.pending")

    def commit(self, state: WatchState, record: dict[str, Any], data: bytes) -> None:
        """Add the snapshot `data` as `record` (numbered) to the state, in three steps."""
        number = record["number"]
        pending = self._pending_path(number)
        write_atomic(pending, data)
        record = {**record, "file": f"{SNAPSHOTS_DIR}/{snapshot_name(number)}",
                  "sha256": hashlib.sha256(data).hexdigest()}
        state.snapshots.append(record)
        self.save(state)
        os.replace(pending, self.snapshot_path(number))

    def recover(self, state: WatchState) -> list[str]:
        """Finish or undo a commit a kill interrupted; what was done, for the terminal."""
        done: list[str] = []
        if not os.path.isdir(self.snapshots_dir):
            return done
        recorded = {r["number"]: r for r in state.snapshots}
        for name in sorted(os.listdir(self.snapshots_dir)):
            if not (name.startswith(".snapshot_") and name.endswith(".json.pending")):
                continue
            number = int(name.removeprefix(".snapshot_").removesuffix(".json.pending"))
            pending = os.path.join(self.snapshots_dir, name)
            record = recorded.get(number)
            if record is not None and _sha256(pending) == record["sha256"]:
                os.replace(pending, self.snapshot_path(number))
                done.append(f"finished committing snapshot {number}")
            else:
                os.unlink(pending)
                done.append(f"removed snapshot {number}, which was never committed")
        return done

    def read_snapshot(self, number: int) -> dict[str, Any]:
        with open(self.snapshot_path(number), encoding="utf-8") as handle:
            data: dict[str, Any] = json.load(handle)
            return data


def _sha256(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def check_resume(state: WatchState, policy_sha256: str, overrides: list[str],
                 start: datetime | None, end: datetime | None) -> None:
    """Refuse to resume with another policy, other params or another window."""
    if policy_sha256 != state.policy_sha256:
        raise UsageError(f"the policy changed since this watch began (SHA-256 "
                         f"{state.policy_sha256[:12]}..., now {policy_sha256[:12]}...): "
                         "restore it, or watch into another directory")
    if overrides and overrides != state.overrides:
        raise UsageError(f"this watch began with --set {' '.join(state.overrides) or '(none)'}; "
                         "resume it with the same values, or none")
    for given, kept, option in ((start, state.start, "--start"), (end, state.end, "--end")):
        if given is not None and given != kept:
            raise UsageError(f"this watch's window is {format_timestamp(state.start)} -> "
                             f"{format_timestamp(state.end)}; {option} "
                             f"{format_timestamp(given)} differs")


def gaps(state: WatchState, now: datetime) -> list[dict[str, Any]]:
    """The parts of the window so far when the watch was not running, in window time:
    before it started (a window that began earlier), and between its sessions."""
    found: list[dict[str, Any]] = []
    clock = state.clock
    sessions = state.sessions
    if sessions:
        first = clock.now(parse_timestamp(sessions[0]["started_at"], "started_at"))
        # A watch that starts within an interval of the window's start covers it with
        # its first cycle, as it covers every interval.
        if (first - state.start).total_seconds() > state.interval_seconds:
            _add_gap(found, state.start, min(first, now), "before the watch started")
    for before, after in itertools.pairwise(sessions):
        down = clock.now(parse_timestamp(before["last_seen"], "last_seen"))
        up = clock.now(parse_timestamp(after["started_at"], "started_at"))
        why = "the watch was stopped" if before.get("ended") == "stopped" else \
            "the watch was not running (killed or crashed)"
        _add_gap(found, max(down, state.start), min(up, now, state.end), why)
    return found


def _add_gap(found: list[dict[str, Any]], start: datetime, end: datetime, why: str) -> None:
    if (end - start) > timedelta(seconds=1):
        found.append({"start": format_timestamp(start), "end": format_timestamp(end),
                      "seconds": round((end - start).total_seconds(), 3), "why": why})


def coverage(state: WatchState, now: datetime) -> dict[str, Any]:
    """How much of the window so far the watch (and its probes) covered."""
    found = gaps(state, now)
    elapsed = max((min(now, state.end) - state.start).total_seconds(), 0.0)
    missing = sum(g["seconds"] for g in found)
    return {"elapsed_seconds": round(elapsed, 3),
            "covered_seconds": round(max(elapsed - missing, 0.0), 3),
            "share": round(max(elapsed - missing, 0.0) / elapsed, 4) if elapsed else None,
            "gaps": found}
