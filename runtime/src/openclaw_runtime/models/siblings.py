"""What the worker processes of one server share: repository actions and statistics.

Both go through the directory the supervisor creates and passes in
``OPENCLAW_CONTROL_DIR`` (:mod:`.control`): ``<dir>/<model>.json`` holds the
newest explicit load or unload of a model, ``<dir>/stats/<pid>-<start ns>.json``
each worker's statistics. A stats file is kept after its worker exits, so that
``/stats`` counts stay cumulative across restarts. Without the directory (one
process, tests) nothing is shared.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .control import CONTROL_ENV, read_actions, write_action

__all__ = ["CONTROL_INTERVAL", "SiblingSync"]

# The service's messages: the loop ran inside InferenceService before it moved here.
log = logging.getLogger("openclaw.service")

CONTROL_INTERVAL = 0.5  # seconds between scans of the shared repository actions


class SiblingSync:
    """This worker's side of the control directory: actions in and out, stats files."""

    def __init__(self, directory: str | None) -> None:
        self.directory = directory
        # Sequence number of the newest action applied (or sent) per model name.
        self.applied: dict[str, int] = {}
        self._stats_dir = os.path.join(directory, "stats") if directory else None
        self._stats_file = f"{os.getpid()}-{time.time_ns()}.json"
        self._published = b""

    @classmethod
    def from_env(cls) -> SiblingSync:
        """Return the sync of the directory named in ``OPENCLAW_CONTROL_DIR`` (if any)."""
        return cls(os.environ.get(CONTROL_ENV) or None)

    def startup_actions(self) -> dict[str, str]:
        """Return the newest action ("load"/"unload") per model, marked as applied."""
        actions = read_actions(self.directory) if self.directory else {}
        self.applied = {name: doc["seq"] for name, doc in actions.items()}
        return {name: doc["action"] for name, doc in actions.items()}

    def broadcast(self, name: str, action: str) -> None:
        """Tell the sibling workers to apply ``action`` to model ``name``."""
        if self.directory:
            self.applied[name] = write_action(self.directory, name, action)

    async def run(
        self,
        apply: Callable[[str, str], Awaitable[Any]],
        entries: Callable[[], list[dict[str, Any]]],
    ) -> None:
        """Every CONTROL_INTERVAL: ``apply(name, action)`` each new sibling action, publish stats.

        ``entries`` returns this worker's statistics entries (``ModelStats.to_dict``).
        Runs until cancelled; needs the directory.
        """
        me = os.getpid()
        while True:
            await asyncio.sleep(CONTROL_INTERVAL)
            try:
                for name, doc in read_actions(self.directory).items():
                    if doc["seq"] <= self.applied.get(name, 0):
                        continue
                    self.applied[name] = doc["seq"]
                    if doc.get("origin") == me:
                        continue
                    await apply(name, doc["action"])
            except Exception:
                log.exception("applying repository actions failed")
            try:
                self.publish_stats(entries())
            except OSError as exc:
                log.warning("cannot share statistics with sibling workers: %s", exc)

    def publish_stats(self, entries: list[dict[str, Any]]) -> None:
        """Write this worker's statistics for its siblings' /stats answers (when changed).

        Called every CONTROL_INTERVAL and at close, so a sibling's figures lag by at
        most that interval.
        """
        if self._stats_dir is None:
            return
        raw = json.dumps(entries).encode()
        if raw == self._published:
            return
        os.makedirs(self._stats_dir, exist_ok=True)
        path = os.path.join(self._stats_dir, self._stats_file)
        tmp = path + ".tmp"
        with open(tmp, "wb") as fh:
            fh.write(raw)
        os.replace(tmp, path)
        self._published = raw

    def sibling_stats(self) -> list[dict[str, Any]]:
        """Return the statistics entries every other worker (running or gone) published."""
        if self._stats_dir is None:
            return []
        try:
            names = os.listdir(self._stats_dir)
        except FileNotFoundError:
            return []
        out: list[dict[str, Any]] = []
        for file in names:
            if file == self._stats_file or not file.endswith(".json"):
                continue
            try:
                with open(os.path.join(self._stats_dir, file), "rb") as fh:
                    doc = json.loads(fh.read())
            except (OSError, ValueError):
                continue  # vanished or replaced while reading: the next answer has it
            if isinstance(doc, list):
                out.extend(e for e in doc if isinstance(e, dict) and "name" in e)
        return out
