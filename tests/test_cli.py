"""The command line (minivelo.cli): help without JAX, one flag vocabulary, usage errors with
exit status 2 and no traceback, and the main job (`compare`) end to end at a small size."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

from minivelo import cli

COMMANDS = [
    "compare",
    "bench",
    "sweep-bench",
    "velo-bench",
    "velo-eval",
    "meta-train",
    "meta-eval",
    "meta-bench",
    "export",
    "select",
    "download",
    "figures",
]


def run_module(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "minivelo", *argv], capture_output=True, text=True, timeout=120
    )


# ------------------------------------------------------------------------------ help


def test_every_command_is_a_subcommand():
    parser = cli.build_parser()
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    assert list(commands.choices) == COMMANDS


def test_help_of_every_command_imports_no_jax():
    """``python -m minivelo --help`` and each ``COMMAND --help``, in one fresh interpreter
    that fails if JAX (or numpy, which JAX drags in) was imported."""
    script = (
        "import sys\n"
        "from minivelo.cli import main\n"
        f"for argv in [['--help']] + [[c, '--help'] for c in {COMMANDS!r}]:\n"
        "    assert main(argv) == 0, argv\n"
        "    heavy = [m for m in ('jax', 'numpy', 'optax') if m in sys.modules]\n"
        "    assert not heavy, (argv, heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    for name in COMMANDS:
        assert name in done.stdout


def test_module_entry_point_help_is_fast_and_jax_free():
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "minivelo", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0
    assert "compare" in done.stdout and "download" in done.stdout
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines()}
    assert not {m for m in imported if m == "jax" or m.startswith("jax.")}


def test_help_names_every_optimizer_the_registry_knows():
    from minivelo.bench import optimizers

    assert set(cli.OPTIMIZER_NAMES) == set(optimizers.BUILTIN_NAMES)
    for name in ("nadam", "adamax", "adadelta", "lion", "adahessian", "velo", "mlp_lopt"):
        assert name in cli.SPEC_HELP


# ------------------------------------------------------------------------ vocabulary


def test_value_parsers():
    assert cli.seed_list("0, 1,2") == [0, 1, 2]
    assert cli.names("adam,sgd:tuned") == ["adam", "sgd:tuned"]
    assert cli.sizes("1e6,2000") == [1_000_000, 2000]
    assert cli.grid("1e-3:1:1") == ("log", 1e-3, 1.0, 1)
    assert cli._rates(cli.grid("1e-3:1:1")) == pytest.approx([1e-3, 1e-2, 1e-1, 1.0])
    assert cli._rates(cli.grid("0.1,0.01")) == [0.1, 0.01]
    for parse, text in [
        (cli.seed_list, "x"),
        (cli.seed_list, "3.5"),
        (cli.seed_list, "0,,1"),
        (cli.seed_list, "-1"),
        (cli.sizes, "abc"),
        (cli.sizes, "0"),
        (cli.grid, "1e-3:x:2"),
        (cli.grid, "1:0.1:2"),
        (cli.grid, "0.1,-1"),
        (cli.positive_int, "0"),
        (cli.positive_float, "nan"),
    ]:
        with pytest.raises(Exception, match=r"."):
            parse(text)


def test_the_flag_vocabulary_is_shared():
    parser = cli.build_parser()
    for argv, checks in [
        (["bench", "--seeds", "0,1", "--steps", "9"], dict(seeds=[0, 1], steps=9)),
        (["velo-eval", "--seeds", "3"], dict(seeds=[3], out="runs/velo_eval")),
        (["sweep-bench", "--seeds", "0,1,2"], dict(seeds=[0, 1, 2])),
        (["meta-eval", "--weights", ".", "--steps", "7", "--out", "o"], dict(steps=7, out="o")),
        (["compare", "--optimizers", "adam,velo"], dict(optimizers=["adam", "velo"])),
        (["export", "--name", "n", "--out", "w"], dict(out="w")),
        (["download", "--out", "cache"], dict(out="cache")),
    ]:
        args = parser.parse_args(argv)
        for key, value in checks.items():
            assert getattr(args, key) == value, (argv, key)
    args = parser.parse_args(["meta-train", "--config", "c.json", "--out", "d", "--resume"])
    assert args.resume and args.config == "c.json" and args.out == "d"
    args = parser.parse_args(
        ["meta-train", "--config", "c", "--out", "d", "--distributed"]
        + ["--coordinator", "h:1", "--num-processes", "2", "--process-id", "1"]
    )
    assert args.distributed and args.num_processes == 2 and args.process_id == 1


# ---------------------------------------------------------------------- usage errors


@pytest.mark.parametrize(
    "argv, message",
    [
        (["no-such-command"], "invalid choice: 'no-such-command'"),
        (["velo-bench", "--sizes", "abc"], "sizes are comma-separated"),
        (["meta-eval", "--weights", "nowhere/weights.npz"], "not found: nowhere/weights.npz"),
        (["bench", "--seeds", "x"], "seeds are a comma-separated list of integers"),
        (["bench", "--steps", "0"], "expected a positive integer"),
        (["bench", "--tasks", "imagenet"], "unknown task.*'imagenet'.*digits_mlp"),
        (["bench", "--optimizers", "adamm"], "unknown optimizer 'adamm'"),
        (["bench", "--baseline", "velo"], "'velo' has no learning rate"),
        (["compare", "--optimizers", "velo:tuned"], "'velo' has no learning rate"),
        (["sweep-bench", "--optimizers", "mlp_lopt"], "'mlp_lopt' has no learning rate"),
        (["velo-eval", "--tasks", "digits_cnn,no_such_task"], "no_such_task"),
        (["velo-eval", "--weights", "missing.msgpack"], "not found: missing.msgpack"),
        (["meta-bench", "--config", "missing.json"], "bad config missing.json"),
        (["export", "--name", "x"], "give --run"),
        (["export", "--name", "x", "--candidates", "a.npz"], "--candidates needs"),
        (["figures", "--only", ""], "comma-separated list"),
        (
            ["meta-eval", "--weights", "minivelo/weights/mlp_lopt_mnist1d.npz", "--family", "nope"],
            "bad --family nope: unknown task family 'nope'",
        ),
    ],
)
def test_bad_values_are_usage_errors(argv, message, capsys, monkeypatch):
    monkeypatch.chdir(pathlib.Path(__file__).resolve().parents[1])  # for the shipped weights
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    import re

    assert re.search(message, captured.err), captured.err
    assert "Traceback" not in captured.err and "usage:" in captured.err


def test_a_config_the_library_refuses_is_a_bad_config(tmp_path, capsys):
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"family": "no_such_family", "num_tasks": "many"}))
    assert cli.main(["meta-bench", "--config", str(config)]) == 2
    assert "bad config" in capsys.readouterr().err
    out = tmp_path / "run"
    assert cli.main(["meta-train", "--config", str(config), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "bad config" in err and "Traceback" not in err


def test_usage_errors_from_the_module_entry_point_go_to_stderr():
    done = run_module("no-such-command")
    assert done.returncode == 2 and done.stdout == ""
    assert "invalid choice" in done.stderr and "Traceback" not in done.stderr
    done = run_module("velo-bench", "--sizes", "abc")
    assert done.returncode == 2 and "Traceback" not in done.stderr


# -------------------------------------------------------------------- the main job


def test_compare_writes_table_and_figure(tmp_path, capsys):
    out = tmp_path / "compare"
    argv = ["compare", "--task", "quadratic", "--steps", "30", "--seeds", "0,1", "--grid"]
    argv += ["1e-2,1e-3", "--out", str(out), "--optimizers", "sgd,adam,adam:tuned"]
    argv += ["--no-progress"]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    table = (out / "compare.md").read_text()
    for label in ("sgd (lr=0.1)", "adam (lr=0.001)", "adam (tuned)"):  # 1e-3: a grid point
        assert f"| {label} |" in table and label in printed
    assert "Tuning Adam's learning rate cost 4 runs (2 rates x 2 seeds" in table
    assert "| adam (tuned) | " in table and "1.00x" in table
    figure = out / "compare_loss_curves.png"
    assert figure.is_file() and figure.stat().st_size > 10_000


def test_compare_defaults_tell_the_story():
    from minivelo import compare

    defaults = compare.DEFAULT_OPTIMIZERS
    assert {"adam", "adam:tuned", "mlp_lopt", "velo"} <= set(defaults)
    assert "adamw" not in defaults  # its row would be Adam's: the docstring says why
    parsed = cli.build_parser().parse_args(["compare"])
    assert tuple(parsed.optimizers) == defaults
    assert parsed.steps == compare.DEFAULT_STEPS and tuple(parsed.seeds) == compare.DEFAULT_SEEDS


# ------------------------------------------------------- other commands, end to end


def test_bench_writes_its_report(tmp_path, capsys):
    out = tmp_path / "bench"
    argv = ["bench", "--tasks", "quadratic", "--optimizers", "sgd", "--steps", "20"]
    argv += ["--grid", "1e-2,1e-1", "--seeds", "0", "--out", str(out), "--no-progress"]
    assert cli.main(argv) == 0
    for name in ("results.md", "results.csv", "speedups.png", "curves.png"):
        assert (out / name).stat().st_size > 100, name
    assert "| quadratic" in capsys.readouterr().out


def test_a_failed_download_is_reported_not_raised(tmp_path, monkeypatch, capsys):
    from minivelo.lopt.velo import download

    def refuse(cache_dir=None, **kwargs):
        raise download.DownloadError("could not download: the network is off")

    monkeypatch.setattr(download, "fetch_published_weights", refuse)
    assert cli.main(["download", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "the network is off" in err and "Traceback" not in err
