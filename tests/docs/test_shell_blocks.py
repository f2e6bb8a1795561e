"""Every shell block a reader is told to paste runs, so a stale block turns the suite red.

The documents: README.md, runtime/README.md, roles/*/README.md and docs/**/*.md.
A fenced block whose language is sh, bash, shell or console is run with
``bash -euo pipefail`` from the repository root, with the virtualenv's tools
first on PATH, in the order the document gives them (a later block may use
what an earlier one made, as a reader following the page would). A block that
is not meant to run (a template with placeholders, a command for real hosts,
the suite itself) carries the line ``<!-- not run: <why> -->`` right above
its fence, and the reason must be given.

Each block runs in its own process group, which is killed at the end, so a
server a block starts in the background does not outlive it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHELLS = {"sh", "bash", "shell", "console"}
FENCE = re.compile(r"^```([A-Za-z]*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
MARK = re.compile(r"<!--\s*not run:(.*?)-->\s*$")
TIMEOUT = 600


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int
    code: str
    skip_reason: str | None

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


def documents() -> list[Path]:
    docs = [ROOT / "README.md", ROOT / "runtime" / "README.md"]
    docs += sorted((ROOT / "roles").glob("*/README.md"))
    docs += sorted((ROOT / "docs").glob("**/*.md"))
    return [d for d in docs if d.is_file()]


def shell_blocks(doc: Path) -> list[Block]:
    text = doc.read_text()
    blocks = []
    for match in FENCE.finditer(text):
        if match.group(1).lower() not in SHELLS:
            continue
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = MARK.search(before)
        reason = mark.group(1).strip() if mark else None
        line = text.count("\n", 0, match.start()) + 1
        blocks.append(Block(doc, line, match.group(2), reason))
    return blocks


def test_the_block_finder_sees_fences_and_marks(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text(
        "# t\n\n```sh\necho one\n```\n\n<!-- not run: needs a real host -->\n"
        "```bash\nssh prod\n```\n\n```yaml\na: 1\n```\n\n<!-- not run: -->\n```sh\nx\n```\n"
    )
    found = shell_blocks(doc)
    assert [(b.code, b.skip_reason) for b in found] == [
        ("echo one\n", None),
        ("ssh prod\n", "needs a real host"),
        ("x\n", ""),
    ]


def test_every_not_run_mark_says_why():
    unexplained = [b.where for d in documents() for b in shell_blocks(d) if b.skip_reason == ""]
    assert not unexplained, f"<!-- not run: ... --> without a reason at {unexplained}"


def _run(block: Block) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)
    proc = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", block.code],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return subprocess.CompletedProcess(proc.args, -9, out + f"\n[timed out after {TIMEOUT}s]")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(proc.args, proc.returncode, out)


def _runnable(doc: Path) -> list[Block]:
    return [b for b in shell_blocks(doc) if b.skip_reason is None]


@pytest.mark.parametrize(
    "doc", [d for d in documents() if _runnable(d)], ids=lambda d: str(d.relative_to(ROOT))
)
def test_shell_blocks_run(doc):
    for block in _runnable(doc):
        done = _run(block)
        assert done.returncode == 0, (
            f"the shell block at {block.where} failed (exit {done.returncode}); "
            f"fix the block, or mark it <!-- not run: why --> if it is not meant to be pasted.\n"
            f"--- block ---\n{block.code}--- output (end) ---\n{done.stdout[-4000:]}"
        )
