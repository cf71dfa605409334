"""A local S3-compatible server for the tests: moto in server mode, on 127.0.0.1 only.

The tests that read and write ``s3://`` runs start it themselves and point the storage
library at it with ``AWS_ENDPOINT_URL``; nothing goes to the network. :func:`s3_env` is the
environment a test (or a subprocess it starts) uses: test credentials, no ``~/.aws`` files,
no instance-metadata lookup.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: The secret key the tests use: no output may ever contain it.
SECRET = "test-secret-0f1e2d3c4b5a"  # noqa: S105 - made up for the tests, no credential


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def s3_env(endpoint: str, *, credentials: bool = True) -> dict[str, str]:
    """The variables that send s3fs/botocore to ``endpoint`` (and nowhere else)."""
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    if credentials:
        env |= {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": SECRET}
    return env


@contextmanager
def moto_server() -> Iterator[str]:
    """Start moto's S3 server on a free local port; yield its endpoint URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):  # noqa: S310
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.2)
        yield endpoint
    finally:
        proc.kill()
        proc.wait()


def s3fs_client(endpoint: str) -> Any:
    """A fresh s3fs filesystem on the local server (for setting up and inspecting buckets)."""
    import s3fs

    return s3fs.S3FileSystem(
        key="testing",
        secret=SECRET,
        endpoint_url=endpoint,
        skip_instance_cache=True,
        use_listings_cache=False,
    )
