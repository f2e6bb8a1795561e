"""The forms of a model name and a version number, checked at the edge and in the repository.

A name is one directory of the repository and nothing else: no separator, no
"." or ".." segment, no second spelling of the same directory (an alias would
load a second copy of the model and be a second name for the auth checks).
"""

from __future__ import annotations

import re

from ..errors import InvalidModelName, clip

__all__ = [
    "NAME_RULE",
    "VERSION_RULE",
    "check_model_name",
    "check_version",
    "is_model_name",
    "is_version",
]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_VERSION = re.compile(r"[0-9]{1,19}")
NAME_RULE = "1-128 characters from A-Z a-z 0-9 _ . -, starting with a letter or digit, without '..'"
VERSION_RULE = "1-19 digits"


def is_model_name(name: str) -> bool:
    """Return True if ``name`` has the form of a model name."""
    return _NAME.fullmatch(name) is not None and ".." not in name


def is_version(text: str) -> bool:
    """Return True if ``text`` has the form of a version number."""
    return _VERSION.fullmatch(text) is not None


def check_model_name(name: str) -> str:
    """Return ``name`` if it is a valid model name, else raise InvalidModelName (400)."""
    if _NAME.fullmatch(name) is None or ".." in name:
        raise InvalidModelName(f"invalid model name {clip(name)!r}: use {NAME_RULE}")
    return name


def check_version(version: str) -> str:
    """Return ``version`` if it is a valid version number, else raise InvalidModelName (400)."""
    if _VERSION.fullmatch(version) is None:
        raise InvalidModelName(f"invalid model version {clip(version)!r}: use {VERSION_RULE}")
    return version
