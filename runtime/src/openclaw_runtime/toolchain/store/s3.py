"""S3-compatible object storage through boto3: ``s3://bucket/prefix`` and ``oss://bucket/prefix``.

Credentials come only from the environment (or boto3's own chain: profile,
instance role), never from the command line, and are never printed.

- ``s3://``: the standard AWS variables (``AWS_ACCESS_KEY_ID``,
  ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``); another S3-compatible server via
  ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` (read by boto3 itself) or
  ``OPENCLAW_S3_ENDPOINT_URL``.
- ``oss://`` (Alibaba Cloud OSS, the guide's ``oss://models/v1.0/...``) speaks
  the S3 API at ``OSS_ENDPOINT`` (``https://oss-cn-hangzhou.aliyuncs.com``) with
  ``OSS_ACCESS_KEY_ID`` / ``OSS_ACCESS_KEY_SECRET`` when set, virtual-hosted
  addressing as OSS requires.
- ``OPENCLAW_S3_ADDRESSING_STYLE`` = ``path`` | ``virtual`` | ``auto`` overrides
  the addressing style (MinIO and most test servers want ``path``).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import MissingDependency, TransferError
from .base import CHUNK, Download, Store, check_key

__all__ = ["S3Store"]


def _client(scheme: str):
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise MissingDependency(
            "boto3", f"{scheme}:// stores", extra="openclaw-runtime[toolchain]"
        ) from exc
    kwargs = {}
    style = os.environ.get("OPENCLAW_S3_ADDRESSING_STYLE")
    if scheme == "oss":
        endpoint = os.environ.get("OSS_ENDPOINT")
        if not endpoint:
            raise TransferError(
                "oss:// needs OSS_ENDPOINT (e.g. https://oss-cn-hangzhou.aliyuncs.com)"
            )
        kwargs["endpoint_url"] = endpoint
        if os.environ.get("OSS_ACCESS_KEY_ID"):
            kwargs["aws_access_key_id"] = os.environ["OSS_ACCESS_KEY_ID"]
            kwargs["aws_secret_access_key"] = os.environ.get("OSS_ACCESS_KEY_SECRET", "")
        style = style or "virtual"
    elif os.environ.get("OPENCLAW_S3_ENDPOINT_URL"):
        kwargs["endpoint_url"] = os.environ["OPENCLAW_S3_ENDPOINT_URL"]
    config = Config(
        s3={"addressing_style": style or "auto"},
        retries={"max_attempts": 5, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
    )
    return boto3.session.Session().client("s3", config=config, **kwargs)


class S3Store(Store):
    """Objects under ``<bucket>/<prefix>/`` of an S3-compatible service."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        parts = urlsplit(self.url)
        if not parts.netloc:
            raise TransferError(f"{url}: expected {parts.scheme}://BUCKET/PREFIX")
        self.scheme = parts.scheme
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self._s3 = _client(parts.scheme)

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, key: str, exc: Exception) -> TransferError:
        from botocore.exceptions import NoCredentialsError

        if isinstance(exc, NoCredentialsError):
            names = (
                "OSS_ACCESS_KEY_ID/OSS_ACCESS_KEY_SECRET"
                if self.scheme == "oss"
                else ("AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
            )
            return TransferError(
                f"{self.describe(key)}: no credentials; set {names} in the environment"
            )
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        return TransferError(f"{self.describe(key)}: {code}")

    def open(self, key: str, offset: int = 0) -> Download:
        """GET the object, with a ``Range`` from ``offset`` on."""
        from botocore.exceptions import BotoCoreError, ClientError

        args = {"Bucket": self.bucket, "Key": self._key(key)}
        if offset:
            args["Range"] = f"bytes={offset}-"
        try:
            response = self._s3.get_object(**args)
        except ClientError as exc:
            if offset and exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return self.open(key, 0)
            raise self._fail(key, exc) from exc
        except BotoCoreError as exc:
            raise self._fail(key, exc) from exc
        body = response["Body"]
        start, total = 0, response.get("ContentLength")
        content_range = response.get("ContentRange")
        if content_range:
            start = offset
            total = int(content_range.rpartition("/")[2])
        return Download(body.iter_chunks(CHUNK), offset=start, total=total, close=body.close)

    def put(self, key: str, source: Path) -> None:
        """Upload with boto3's managed transfer (multipart for large files)."""
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._s3.upload_file(str(source), self.bucket, self._key(key))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(key, exc) from exc
        except S3UploadFailedError as exc:
            raise TransferError(f"{self.describe(key)}: upload failed: {exc}") from exc
