"""Workers share repository actions and statistics through the control directory."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from openclaw_runtime.models import siblings as siblings_module
from openclaw_runtime.models.control import write_action
from openclaw_runtime.models.siblings import SiblingSync


def test_startup_actions_are_the_newest_per_model_and_count_as_applied(tmp_path):
    write_action(tmp_path, "a", "load")
    write_action(tmp_path, "a", "unload")
    write_action(tmp_path, "b", "load")
    sync = SiblingSync(str(tmp_path))
    assert sync.startup_actions() == {"a": "unload", "b": "load"}
    assert set(sync.applied) == {"a", "b"}


async def test_run_applies_only_new_actions_of_other_workers(tmp_path, monkeypatch):
    monkeypatch.setattr(siblings_module, "CONTROL_INTERVAL", 0.01)
    write_action(tmp_path, "old", "load")
    sync = SiblingSync(str(tmp_path))
    sync.startup_actions()
    sync.broadcast("mine", "load")  # this worker's own action: already applied here
    seen: list[tuple[str, str]] = []

    async def apply(name: str, action: str) -> None:
        seen.append((name, action))

    task = asyncio.create_task(sync.run(apply, lambda: [{"name": "m", "version": "1"}]))
    try:
        # As another worker would: a different origin pid.
        doc = {"action": "unload", "seq": sync.applied["mine"] + 1, "origin": os.getpid() + 1}
        (tmp_path / "other.json").write_text(json.dumps(doc))
        for _ in range(200):
            if seen:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # more scans: nothing is applied twice
    finally:
        task.cancel()
    assert seen == [("other", "unload")]
    # The loop also published this worker's statistics.
    assert [p.name.endswith(".json") for p in (tmp_path / "stats").iterdir()] == [True]


def test_statistics_files_reach_the_siblings_but_not_the_writer(tmp_path):
    one, two = SiblingSync(str(tmp_path)), SiblingSync(str(tmp_path))
    two._stats_file = "other-worker.json"
    one.publish_stats([{"name": "m", "version": "1", "x": 1}])
    (tmp_path / "stats" / "junk.json").write_text("[1, {}, not json")
    assert one.sibling_stats() == []
    assert two.sibling_stats() == [{"name": "m", "version": "1", "x": 1}]


@pytest.mark.parametrize("directory", [None, ""])
def test_without_a_directory_nothing_is_shared(directory, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sync = SiblingSync(directory)
    assert sync.startup_actions() == {}
    sync.broadcast("m", "load")
    sync.publish_stats([{"name": "m", "version": "1"}])
    assert sync.sibling_stats() == [] and sync.applied == {}
    assert os.listdir(tmp_path) == []
