"""One file from a model store to disk: resumed, bounded and checked against its SHA-256."""

from __future__ import annotations

from pathlib import Path

from ..models.manifest import sha256_file
from .errors import TransferError
from .progress import Progress
from .store import Store

__all__ = ["TooLarge", "download"]


class TooLarge(TransferError):
    """Over a size bound (``--max-bytes``): resuming would not help."""


def download(
    store: Store,
    key: str,
    dest: Path,
    digest: str,
    budget: int,
    progress: Progress,
    bound: str = "--max-bytes",
) -> int:
    """Download (or resume) one file and check its SHA-256; return its size."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    offset = dest.stat().st_size if dest.exists() else 0
    if offset and sha256_file(dest) == digest:
        progress.step(f"{key}: already complete")
        return offset
    download = store.open(key, offset)
    done = download.offset
    try:
        if download.total is not None and download.total > budget:
            raise TooLarge(
                f"{store.describe(key)}: {download.total} bytes exceeds the size bound "
                f"({budget} bytes left of {bound})"
            )
        mode = "ab" if download.offset else "wb"  # the store may ignore Range and restart
        counter = progress.transfer(key, download.total, done)
        with dest.open(mode) as fh:
            try:
                for chunk in download.chunks:
                    if done + len(chunk) > budget:
                        raise TooLarge(
                            f"{store.describe(key)}: more than {budget} bytes; over {bound}"
                        )
                    fh.write(chunk)
                    done += len(chunk)
                    counter.update(len(chunk))
            except TooLarge:
                raise
            except TransferError as exc:
                raise TransferError(
                    f"{exc.message}; {done} bytes kept, run fetch again to resume"
                ) from exc
        counter.close()
    finally:
        download.close()
    if download.total is not None and done < download.total:
        raise TransferError(
            f"{store.describe(key)}: got {done} of {download.total} bytes; "
            "run fetch again to resume"
        )
    actual = sha256_file(dest)
    if actual != digest:
        dest.unlink()
        raise TransferError(
            f"{store.describe(key)}: sha256 {actual} does not match the manifest's {digest}; "
            "the download was discarded and no installed version was changed"
        )
    return done
