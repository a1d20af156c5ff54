from __future__ import annotations

import os
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from hypothesis import settings

from tsadbench.data import Entity, load_dataset

# frozen-network caches of the test session go to a folder of their own, not the user's cache
os.environ["TSADBENCH_CACHE"] = tempfile.mkdtemp(prefix="tsadbench-test-cache-")
# one torch / BLAS thread in the tests and the processes they start (set before torch loads):
# on a busy 2-core machine, torch's spinning threads made small tests 20x slower (160 s against
# 8 s for a TadGAN and a MemAE check); a test that needs more threads asks for them
os.environ.update(
    dict.fromkeys(("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"), "1")
)


# no per-example time limit in property tests: on a busy machine an example may take longer
# than hypothesis's 200 ms default, and a test must not fail because the machine is busy
settings.register_profile("tsadbench", deadline=None)
settings.load_profile("tsadbench")


@pytest.fixture(scope="session")
def small_entity() -> Entity:
    """A short synthetic series (3 channels) for fast detector checks."""
    ds = load_dataset("synthetic", length=300, n_channels=3, n_anomalies=3)
    return ds.entities[0]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def serve(files: dict[str, bytes], log: list[str]):
    """A local HTTP server on 127.0.0.1 for the files the test creates (GET with Range, HEAD);
    a name ending in ``.cut`` announces 10 bytes more than it sends."""

    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self):
            body = files.get(self.path.lstrip("/"))
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()

        def do_GET(self):
            body = files.get(self.path.lstrip("/"))
            log.append(f"{self.path} {self.headers.get('Range')}")
            if body is None:
                self.send_error(404)
                return
            start = 0
            if self.headers.get("Range"):  # bytes=N-
                start = int(self.headers["Range"].split("=")[1].rstrip("-"))
                if start >= len(body):
                    self.send_error(416)
                    return
                self.send_response(206)
            else:
                self.send_response(200)
            cut = self.path.endswith(".cut")  # announce more than is sent, then hang up
            self.send_header("Content-Length", str(len(body) - start + (10 if cut else 0)))
            self.end_headers()
            self.wfile.write(body[start:])

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


@pytest.fixture
def http():
    files: dict[str, bytes] = {}
    log: list[str] = []
    server, url = serve(files, log)
    yield files, url, log
    server.shutdown()
