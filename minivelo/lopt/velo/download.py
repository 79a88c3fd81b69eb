"""Fetch the published VeLO weights, explicitly, over HTTPS, into a local cache.

Nothing here runs at import; nothing uses cloud credentials. The published checkpoint is
a public object of Google Cloud Storage, readable over plain HTTPS::

    from minivelo.lopt.velo.download import fetch_published_weights
    path = fetch_published_weights()          # ~9 MB, once; then from the cache
    tx = minivelo.velo(num_steps, weights=path)

The file is checked before it is moved into the cache, so an interrupted or corrupted
download never leaves a file there:

- the body must be as long as the server's ``Content-Length`` (a body cut short is
  rejected even when no size or hash was asked for), and a chunked body cut short is a
  :class:`DownloadError`, like every other network failure;
- its size (``expected_size``) and SHA-256 (``sha256``) are compared when given;
- ``timeout`` bounds each network read and ``deadline`` the whole download, so a server
  that trickles a byte now and then cannot hang it;
- the download is written to a ``.download-*.part`` file beside the target and moved into
  place atomically; ``.part`` files older than the deadline (left by a killed process:
  no live download outlasts its deadline) are removed at the next download.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import pathlib
import tempfile
import time
import urllib.request

PUBLISHED_NAME = "aug12_continue_on_bigger_2xbs_200kstep_bigproblem_v2_5620"
PUBLISHED_URL = (
    "https://storage.googleapis.com/gresearch/learned_optimization/pretrained_lopts/"
    f"{PUBLISHED_NAME}/params"
)
PUBLISHED_SIZE = 9_282_564  # bytes
PUBLISHED_SHA256 = None  # not published; pass sha256=... to pin it
DEFAULT_DEADLINE = 900.0  # seconds for the whole download (~9 MB)
_PART_PREFIX, _PART_SUFFIX = ".download-", ".part"
_READ_SIZE = 1 << 16


class DownloadError(RuntimeError):
    """The download failed or the file is not the expected one."""


def default_cache_dir() -> pathlib.Path:
    """``$MINIVELO_CACHE``, else ``$XDG_CACHE_HOME/minivelo``, else ``~/.cache/minivelo``."""
    if os.environ.get("MINIVELO_CACHE"):
        return pathlib.Path(os.environ["MINIVELO_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(base) / "minivelo"


def fetch_published_weights(
    cache_dir=None,
    *,
    url: str = PUBLISHED_URL,
    sha256: str | None = PUBLISHED_SHA256,
    expected_size: int | None = PUBLISHED_SIZE,
    filename: str | None = None,
    timeout: float = 60.0,
    deadline: float = DEFAULT_DEADLINE,
) -> pathlib.Path:
    """Download ``url`` into ``cache_dir`` (once) and return the local path.

    Args:
      cache_dir: where to keep the file (default :func:`default_cache_dir`).
      url: an ``https://`` (or, for tests, ``http://``) address.
      sha256: the expected hex digest; checked when given.
      expected_size: the expected size in bytes; checked when given.
      filename: the cached file's name (default ``<published name>.msgpack``).
      timeout: seconds for the connection and for each read.
      deadline: seconds for the whole download; past it the download is abandoned
        (checked after every read, and no read waits beyond it).

    Raises:
      DownloadError: the request failed, took longer than ``deadline``, the body is
        shorter than its ``Content-Length``, or the size or hash differ. No partial or
        mismatching file is left in the cache.
      ValueError: ``url`` is not http(s), or ``timeout``/``deadline`` is not positive.
    """
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"only http(s) URLs are fetched, got {url!r}")
    for name, value in (("timeout", timeout), ("deadline", deadline)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    cache = pathlib.Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = cache / (filename or f"{PUBLISHED_NAME}.msgpack")
    if target.exists() and _matches(target, sha256, expected_size):
        return target
    cache.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(cache, older_than=deadline)
    fd, tmp_name = tempfile.mkstemp(dir=cache, prefix=_PART_PREFIX, suffix=_PART_SUFFIX)
    tmp = pathlib.Path(tmp_name)
    give_up_at = time.monotonic() + deadline
    try:
        digest, size = hashlib.sha256(), 0
        with (
            os.fdopen(fd, "wb") as out,
            urllib.request.urlopen(url, timeout=min(timeout, deadline)) as resp,
        ):
            announced = resp.headers.get("Content-Length")
            while True:
                left = give_up_at - time.monotonic()
                if left <= 0:
                    raise DownloadError(
                        f"download of {url} took longer than its deadline of {deadline:g} s "
                        f"({size} bytes received)"
                    )
                _set_read_timeout(resp, min(timeout, left))
                chunk = resp.read1(_READ_SIZE)
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        if announced is not None and announced.strip().isdigit() and size != int(announced):
            raise DownloadError(
                f"downloaded {size} bytes from {url}, the server announced {int(announced)} "
                "(Content-Length): truncated"
            )
        if expected_size is not None and size != expected_size:
            raise DownloadError(
                f"downloaded {size} bytes from {url}, expected {expected_size}: "
                "truncated or not the expected file"
            )
        if sha256 is not None and digest.hexdigest() != sha256.lower():
            raise DownloadError(
                f"SHA-256 of {url} is {digest.hexdigest()}, expected {sha256.lower()}"
            )
        os.replace(tmp, target)  # atomic: the cache only ever holds checked files
    except DownloadError:
        raise
    except TimeoutError as err:  # a read that waited past min(timeout, time left)
        raise DownloadError(
            f"could not download {url}: no data for {min(timeout, deadline):g} s "
            f"or past the deadline of {deadline:g} s ({err})"
        ) from err
    # urllib's URLError and HTTPError are OSErrors; a chunked body cut short raises
    # http.client.IncompleteRead, an HTTPException
    except (OSError, http.client.HTTPException) as err:
        raise DownloadError(f"could not download {url}: {err!r}") from err
    finally:
        tmp.unlink(missing_ok=True)
    return target


def remove_stale_parts(cache_dir, older_than: float = DEFAULT_DEADLINE) -> list[pathlib.Path]:
    """Remove ``.download-*.part`` files not written to for ``older_than`` seconds.

    A download writes its ``.part`` file at least once per read and gives up after its
    deadline, so a ``.part`` file older than the deadline belongs to a killed process.
    Returns the removed paths.
    """
    removed = []
    now = time.time()
    for part in pathlib.Path(cache_dir).glob(f"{_PART_PREFIX}*{_PART_SUFFIX}"):
        try:
            if now - part.stat().st_mtime > older_than:
                part.unlink()
                removed.append(part)
        except FileNotFoundError:  # another process removed it first
            pass
    return removed


def _set_read_timeout(resp, seconds: float) -> None:
    """Bound the next socket read of ``resp`` (an ``http.client.HTTPResponse``)."""
    sock = getattr(getattr(resp, "fp", None), "raw", None)
    sock = getattr(sock, "_sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 1e-3))


def _matches(path: pathlib.Path, sha256: str | None, expected_size: int | None) -> bool:
    if expected_size is not None and path.stat().st_size != expected_size:
        return False
    if sha256 is not None:
        return hashlib.sha256(path.read_bytes()).hexdigest() == sha256.lower()
    return True
