"""Progress reporting for long toolchain steps.

Progress always goes to stderr, so ``--json`` output on stdout stays parseable.
Steps are plain lines (good in CI logs); byte transfers use a tqdm bar when
stderr is a terminal and tqdm is installed, otherwise a line every 10 %.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["ByteProgress", "Progress"]


class Progress:
    """Prints ``[command] message`` lines with the elapsed time; silent when ``quiet``."""

    def __init__(self, command: str, *, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.command = command
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        self._start = time.monotonic()

    def step(self, message: str) -> None:
        """Report the start or the outcome of one step."""
        if self.quiet:
            return
        elapsed = time.monotonic() - self._start
        print(f"[{self.command} {elapsed:6.1f}s] {message}", file=self.stream, flush=True)

    def transfer(self, label: str, total: int | None, done: int = 0) -> ByteProgress:
        """Return a byte counter for one file transfer."""
        return ByteProgress(self, label, total, done)


class ByteProgress:
    """Counts transferred bytes of one file and reports them."""

    def __init__(self, owner: Progress, label: str, total: int | None, done: int) -> None:
        self._owner = owner
        self._label = label
        self._total = total
        self._done = done
        self._next_tenth = 1
        self._bar = None
        if not owner.quiet and owner.stream.isatty():
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(
                    total=total,
                    initial=done,
                    desc=label,
                    unit="B",
                    unit_scale=True,
                    file=owner.stream,
                )
        if done and not self._bar:
            owner.step(f"{label}: resuming at {done} bytes")

    def update(self, count: int) -> None:
        """Add ``count`` transferred bytes."""
        self._done += count
        if self._bar is not None:
            self._bar.update(count)
            return
        if not self._total:
            return
        while self._next_tenth <= 9 and self._done * 10 >= self._total * self._next_tenth:
            self._owner.step(f"{self._label}: {self._next_tenth * 10}% of {self._total} bytes")
            self._next_tenth += 1

    def close(self) -> None:
        """Finish the bar or print the final line."""
        if self._bar is not None:
            self._bar.close()
        else:
            self._owner.step(f"{self._label}: {self._done} bytes done")
