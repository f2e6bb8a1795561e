"""Model names and versions: the repository refuses any other form before it touches a path.

A bad name is an InvalidModelName (400) from every lookup, load, unload and
config read, even when the path it would make exists (a model beside the
repository, the repository's own directory, a second spelling of a model);
and neither a bad nor an unknown name leaves anything behind in the service.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from oc_helpers import ADD_CONFIG, add_model, small_model

from openclaw_runtime.config import Settings
from openclaw_runtime.errors import InvalidModelName, ModelNotFound
from openclaw_runtime.models.control import CONTROL_ENV
from openclaw_runtime.models.repository import ModelRepository
from openclaw_runtime.service import InferenceService

# Each of these makes a path that exists in the layout below.
BAD_NAMES = [
    "../outside",
    "..",
    ".",
    "./add",
    "add/",
    "add/.",
    "add/1",
    "/add",
    "a..b",
    "-add",
    "add\n",
    "add\x00",
    "add%2F",
    "ädd",
    "",
    "a" * 129,
]
BAD_VERSIONS = ["", "1/..", "../1", "-1", "1.0", " 1", "\u0661", "1" * 20]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """<tmp>/repo with model ``add``; a model beside it; a config.yaml in the root itself."""
    repo = tmp_path / "repo"
    add_model(repo, "add", 1, small_model(), ADD_CONFIG)
    add_model(tmp_path, "outside", 1, small_model(), ADD_CONFIG)
    add_model(tmp_path, "repo", 1, small_model(), ADD_CONFIG)  # repo/config.yaml, repo/1/
    (repo / "a..b").mkdir()
    (repo / "a..b" / "config.yaml").write_text(ADD_CONFIG)
    return repo


def repository(root: Path) -> ModelRepository:
    return ModelRepository(root, memory_limit_bytes=1 << 30)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_bad_name_is_refused_by_every_operation(root, name):
    repo = repository(root)
    for call in (
        lambda: repo.get(name),
        lambda: repo.get(name, "1"),
        lambda: repo.config(name),
        lambda: repo.load(name),
        lambda: repo.unload(name),
        lambda: repo.require(name),
    ):
        with pytest.raises(InvalidModelName, match="use 1-128 characters from A-Z a-z 0-9"):
            call()
    assert repo._models == {}
    assert [e.name for e in repo.index()] == ["add"]


@pytest.mark.parametrize("version", BAD_VERSIONS)
def test_a_version_is_digits(root, version):
    repo = repository(root)
    repo.load("add")
    with pytest.raises(InvalidModelName, match="use 1-19 digits"):
        repo.get("add", version)
    assert repo.get("add", "1").version == 1


def test_a_directory_named_otherwise_is_not_a_model(root):
    (root / "my model").mkdir()
    (root / "my model" / "config.yaml").write_text(ADD_CONFIG)
    repo = repository(root)
    assert repo.names() == ["add"]
    assert {e.name for e in repo.index()} == {"add"}


def test_the_message_repeats_at_most_200_characters_of_a_name(root):
    with pytest.raises(InvalidModelName) as info:
        repository(root).get("x/" * 5000)
    assert "x/" * 100 in info.value.message and len(info.value.message) < 400


@pytest.fixture
async def service(root, tmp_path, monkeypatch):
    control = tmp_path / "control"
    control.mkdir()
    monkeypatch.setenv(CONTROL_ENV, str(control))
    settings = Settings()
    models = dataclasses.replace(settings.models, repository=str(root), poll_interval_seconds=0)
    svc = InferenceService(dataclasses.replace(settings, models=models))
    yield svc
    await svc.close()


async def test_a_flood_of_bad_and_unknown_names_grows_nothing(service, tmp_path):
    control = tmp_path / "control"
    for n in range(300):
        for name, error in (
            (f"nope-{n}", ModelNotFound),
            (f"../outside-{n}", InvalidModelName),
            (f"add{n}/", InvalidModelName),
            (f"add/{n}", InvalidModelName),
        ):
            with pytest.raises(error):
                await service.load(name, broadcast=True)
            with pytest.raises(error):
                await service.unload(name, broadcast=True)
            with pytest.raises(error):
                await service.resolve(name)
            with pytest.raises(error):
                service.statistics(name)
    assert service._load_locks == {}
    assert service.siblings.applied == {}
    assert service._stats == {}
    assert service.repository._models == {}
    # No action for the sibling workers was written, inside the directory or beside it.
    assert os.listdir(control) == []
    assert sorted(os.listdir(tmp_path)) == ["control", "outside", "repo"]
    # The real model still loads, and only it has a lock.
    await service.load("add", broadcast=True)
    assert list(service._load_locks) == ["add"]
    assert os.listdir(control) == ["add.json"]
    assert (await service.resolve("add")).version == 1
