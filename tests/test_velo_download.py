"""The explicit weights download, against a loopback HTTP server (no internet)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading

import pytest
from velo_goldens import BUNDLES

from minivelo.lopt.velo import checkpoint, download

SOURCE = BUNDLES["golden_a"] / "params.msgpack"


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture(scope="module")
def server():
    if not SOURCE.exists():
        pytest.skip(f"{SOURCE} not found")
    handler = functools.partial(_Handler, directory=str(SOURCE.parent))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _size_and_hash():
    data = SOURCE.read_bytes()
    return len(data), hashlib.sha256(data).hexdigest()


def test_fetches_checks_and_caches(server, tmp_path):
    size, sha = _size_and_hash()
    url = f"{server}/{SOURCE.name}"
    path = download.fetch_published_weights(tmp_path, url=url, sha256=sha, expected_size=size)
    assert path.read_bytes() == SOURCE.read_bytes()
    assert checkpoint.load(path)["rnn_params"]["rnn/linear"]["w"].shape == (1024, 2048)
    # second call: served from the cache (the server is not needed)
    again = download.fetch_published_weights(
        tmp_path, url="http://127.0.0.1:9/unreachable", sha256=sha, expected_size=size
    )
    assert again == path


def test_wrong_hash_leaves_no_file(server, tmp_path):
    size, _ = _size_and_hash()
    with pytest.raises(download.DownloadError, match="SHA-256"):
        download.fetch_published_weights(
            tmp_path, url=f"{server}/{SOURCE.name}", sha256="0" * 64, expected_size=size
        )
    assert list(tmp_path.iterdir()) == []


def test_truncated_download_leaves_no_file(server, tmp_path):
    size, sha = _size_and_hash()
    with pytest.raises(download.DownloadError, match="truncated"):
        download.fetch_published_weights(
            tmp_path, url=f"{server}/{SOURCE.name}", expected_size=size + 1
        )
    assert list(tmp_path.iterdir()) == []


def test_missing_file_is_a_download_error(server, tmp_path):
    with pytest.raises(download.DownloadError, match="could not download"):
        download.fetch_published_weights(tmp_path, url=f"{server}/nope")
    assert list(tmp_path.iterdir()) == []


def test_published_defaults():
    assert download.PUBLISHED_URL.startswith("https://storage.googleapis.com/gresearch/")
    assert download.PUBLISHED_SIZE == 9_282_564
