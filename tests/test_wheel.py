"""The wheel holds the library: configs, shipped weights and data in; run records out.

Builds the wheel from a copy of the package sources (so the build leaves nothing in the
repository), reads its file list, then unzips it and imports minivelo from there, in an
empty folder, to find meta-bench's default config and the shipped weights.
"""

import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> pathlib.Path:
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "minivelo", source / "minivelo", ignore=shutil.ignore_patterns("__pycache__")
    )
    out = tmp_path_factory.mktemp("dist")
    # Without setuptools in this environment (a bare 3.12 venv), pip builds in an isolated
    # one, fetching setuptools from the configured index, as `pip install .` does.
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", *isolation]
        + ["-w", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    [path] = out.glob("minivelo-*.whl")
    return path


def test_wheel_contents(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    configs = {p.name for p in (ROOT / "minivelo/meta/configs").glob("*.json")}
    assert configs and {f"minivelo/meta/configs/{c}" for c in configs} <= names
    for shipped in ("minivelo_small.msgpack", "minivelo_small.json", "mlp_lopt_mnist1d.npz"):
        assert f"minivelo/weights/{shipped}" in names
    assert "minivelo/data/corpus.txt" in names
    assert "minivelo/lopt/base.py" in names and "minivelo/meta/train.py" in names
    leaked = [
        n
        for n in names
        if "in_progress" in n
        or n.startswith("records/")
        or n.endswith((".png", ".jsonl", "checkpoint.npz", "best.npz"))
        or "/tests/" in n
    ]
    assert not leaked, leaked
    size = sum(i.file_size for i in zipfile.ZipFile(wheel).infolist())
    assert size < 5_000_000, size  # the library, not 8 MB of records


def test_meta_bench_default_config_is_found_from_the_installed_wheel(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    empty = tmp_path / "empty"
    empty.mkdir()
    script = (
        "import pathlib, minivelo\n"
        "from minivelo.meta import benchmark\n"
        "from minivelo.meta.train import MetaConfig\n"
        "from minivelo.lopt.velo import optimizer\n"
        "print(pathlib.Path(minivelo.__file__).resolve().parent)\n"
        "print(benchmark.DEFAULT_CONFIG.resolve())\n"
        "print(MetaConfig.from_json(benchmark.DEFAULT_CONFIG).optimizer['kind'])\n"
        "print(optimizer.shipped_weights_path().resolve())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site), "JAX_PLATFORMS": "cpu"}
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=empty, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    package, config, kind, weights = run.stdout.split()
    assert pathlib.Path(package) == (site / "minivelo").resolve()  # not the repository's
    assert pathlib.Path(config).is_relative_to(site.resolve()) and kind == "mlp"
    assert pathlib.Path(weights) == (site / "minivelo/weights/minivelo_small.msgpack").resolve()
