"""Fetch the published VeLO weights, explicitly, over HTTPS, into a local cache.

Nothing here runs at import; nothing uses cloud credentials. The published checkpoint is
a public object of Google Cloud Storage, readable over plain HTTPS::

    from minivelo.lopt.velo.download import fetch_published_weights
    path = fetch_published_weights()          # ~9 MB, once; then from the cache
    tx = minivelo.velo(num_steps, weights=path)

The file is checked for its size (and its SHA-256 when one is given) before it is moved
into the cache, so an interrupted or corrupted download never leaves a file there.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import tempfile
import urllib.request

PUBLISHED_NAME = "aug12_continue_on_bigger_2xbs_200kstep_bigproblem_v2_5620"
PUBLISHED_URL = (
    "https://storage.googleapis.com/gresearch/learned_optimization/pretrained_lopts/"
    f"{PUBLISHED_NAME}/params"
)
PUBLISHED_SIZE = 9_282_564  # bytes
PUBLISHED_SHA256 = None  # not published; pass sha256=... to pin it


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
) -> pathlib.Path:
    """Download ``url`` into ``cache_dir`` (once) and return the local path.

    Args:
      cache_dir: where to keep the file (default :func:`default_cache_dir`).
      url: an ``https://`` (or, for tests, ``http://``) address.
      sha256: the expected hex digest; checked when given.
      expected_size: the expected size in bytes; checked when given.
      filename: the cached file's name (default ``<published name>.msgpack``).
      timeout: seconds for the connection.

    Raises:
      DownloadError: the request failed, or the size or hash differ. No partial or
        mismatching file is left in the cache.
    """
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"only http(s) URLs are fetched, got {url!r}")
    cache = pathlib.Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = cache / (filename or f"{PUBLISHED_NAME}.msgpack")
    if target.exists() and _matches(target, sha256, expected_size):
        return target
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=cache, prefix=".download-", suffix=".part")
    tmp = pathlib.Path(tmp_name)
    try:
        digest, size = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
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
    except OSError as err:  # urllib's URLError and HTTPError are OSErrors
        raise DownloadError(f"could not download {url}: {err}") from err
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _matches(path: pathlib.Path, sha256: str | None, expected_size: int | None) -> bool:
    if expected_size is not None and path.stat().st_size != expected_size:
        return False
    if sha256 is not None:
        return hashlib.sha256(path.read_bytes()).hexdigest() == sha256.lower()
    return True
