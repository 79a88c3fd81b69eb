"""The explicit weights download, against a loopback HTTP server (no internet)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import threading
import time

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


# ---------------------------------------------------------------------------------------
# Misbehaving servers: a body cut short, a chunked body cut short, a trickle
# ---------------------------------------------------------------------------------------


class _BadHandler(http.server.BaseHTTPRequestHandler):
    """``/short``: 50 of 100 announced bytes; ``/chunked``: a chunk cut short;
    ``/trickle``: one byte every 0.2 s of 1000 announced."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        try:
            self.send_response(200)
            if self.path == "/short":
                self.send_header("Content-Length", "100")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"x" * 50)
            elif self.path == "/chunked":
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"64\r\n" + b"x" * 10)  # a 100-byte chunk, 10 sent
            elif self.path == "/trickle":
                self.send_header("Content-Length", "1000")
                self.end_headers()
                for _ in range(50):  # ~10 s in all, far past the test's deadline
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.2)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


@pytest.fixture(scope="module")
def bad_server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BadHandler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_body_shorter_than_content_length_is_rejected_without_size_or_hash(bad_server, tmp_path):
    with pytest.raises(download.DownloadError, match="Content-Length"):
        download.fetch_published_weights(
            tmp_path, url=f"{bad_server}/short", sha256=None, expected_size=None
        )
    assert list(tmp_path.iterdir()) == []


def test_chunked_body_cut_short_is_a_download_error(bad_server, tmp_path):
    with pytest.raises(download.DownloadError, match="IncompleteRead"):
        download.fetch_published_weights(
            tmp_path, url=f"{bad_server}/chunked", sha256=None, expected_size=None
        )
    assert list(tmp_path.iterdir()) == []


def test_trickling_server_hits_the_overall_deadline(bad_server, tmp_path):
    start = time.monotonic()
    with pytest.raises(download.DownloadError, match="deadline"):
        download.fetch_published_weights(
            tmp_path, url=f"{bad_server}/trickle", expected_size=None, timeout=5, deadline=1.0
        )
    assert time.monotonic() - start < 4  # each read alone (0.2 s) is within its timeout
    assert list(tmp_path.iterdir()) == []


def test_bad_timeout_or_deadline_is_refused(tmp_path):
    for kwargs in ({"deadline": 0}, {"deadline": -1.0}, {"timeout": True}):
        with pytest.raises(ValueError, match="positive number of seconds"):
            download.fetch_published_weights(tmp_path, url="http://127.0.0.1:9/x", **kwargs)


def test_stale_part_files_are_removed_at_the_next_download(server, tmp_path):
    size, sha = _size_and_hash()
    stale = tmp_path / ".download-killed.part"  # left by a killed download
    stale.write_bytes(b"partial")
    old = time.time() - 2 * download.DEFAULT_DEADLINE
    os.utime(stale, (old, old))
    fresh = tmp_path / ".download-live.part"  # another process's download, still running
    fresh.write_bytes(b"partial")
    path = download.fetch_published_weights(
        tmp_path, url=f"{server}/{SOURCE.name}", sha256=sha, expected_size=size
    )
    assert not stale.exists()
    assert fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, fresh.name])
