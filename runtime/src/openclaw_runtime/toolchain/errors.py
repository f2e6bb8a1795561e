"""Errors of the model toolchain, a branch of the runtime's one error tree.

Every class derives from :class:`openclaw_runtime.errors.OpenClawError`, so a
caller that already handles the runtime's errors handles these too; each also
carries the exit code ``openclaw-model`` returns for it, which scripts rely on.
"""

from __future__ import annotations

from ..errors import OpenClawError

__all__ = [
    "EXIT_CHECK_FAILED",
    "EXIT_DEPENDENCY",
    "EXIT_INTERNAL",
    "EXIT_MODEL",
    "EXIT_OK",
    "EXIT_STORE",
    "EXIT_USAGE",
    "ConversionError",
    "MissingDependency",
    "ToolchainError",
    "TransferError",
    "UnsafeInput",
    "UsageError",
    "VerificationFailed",
]

EXIT_OK = 0
EXIT_CHECK_FAILED = 1  # verify ran and found a problem (checksum, parity, opset, ...)
EXIT_USAGE = 2  # bad arguments, refused unsafe input
EXIT_MODEL = 3  # the model, its repository entry or its source cannot be used
EXIT_DEPENDENCY = 4  # an optional package is needed (the message names it)
EXIT_STORE = 5  # publish/fetch failed (network, size bound, checksum of a download)
EXIT_INTERNAL = 70  # a bug; the traceback is printed


class ToolchainError(OpenClawError):
    """Base of the toolchain's errors."""

    code = "toolchain_error"
    exit_code = EXIT_MODEL


class UsageError(ToolchainError):
    """The command line asks for something impossible or contradictory."""

    code = "usage"
    exit_code = EXIT_USAGE


class UnsafeInput(UsageError):
    """Loading the input would run code from it and the user did not allow that."""

    code = "unsafe_input"


class MissingDependency(ToolchainError):
    """An optional package is needed; the message says which one and how to install it."""

    code = "missing_dependency"
    exit_code = EXIT_DEPENDENCY

    def __init__(self, package: str, purpose: str, *, extra: str | None = None) -> None:
        hint = f"pip install '{extra}'" if extra else f"pip install {package}"
        super().__init__(
            f"{purpose} needs the Python package '{package}', which is not installed; {hint}"
        )
        self.package = package


class ConversionError(ToolchainError):
    """The source model cannot be converted to ONNX."""

    code = "conversion_failed"


class TransferError(ToolchainError):
    """Publishing to or fetching from a model store failed; no good version was replaced."""

    code = "transfer_failed"
    exit_code = EXIT_STORE


class VerificationFailed(ToolchainError):
    """``verify`` found at least one failed check; ``report`` holds every check."""

    code = "verification_failed"
    exit_code = EXIT_CHECK_FAILED

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report
