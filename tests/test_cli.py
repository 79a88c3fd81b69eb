"""The command line: dispatch, and the main job (`compare`) end to end at a small size."""

import subprocess
import sys

from minivelo.__main__ import COMMANDS, main


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_unknown_command_names_the_choices(capsys):
    assert main(["no-such-command"]) == 2
    assert "compare" in capsys.readouterr().out


def test_compare_writes_table_and_figure(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # outside a checkout, figures go to ./figures
    argv = ["compare", "--steps", "40", "--seeds", "2", "--optimizers", "sgd:lr=0.1", "adam"]
    assert main(argv + ["--figure", "small_compare"]) == 0
    out = capsys.readouterr().out
    assert "| sgd (lr=0.1) |" in out and "| adam (lr=0.001) |" in out
    figure = tmp_path / "figures" / "small_compare.png"
    assert figure.is_file() and figure.stat().st_size > 10_000


def test_compare_rejects_bad_spec(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        main(["compare", "--steps", "5", "--optimizers", "nosuchopt"])
    except KeyError as error:
        assert "choose one of" in str(error)
    else:
        raise AssertionError("an unknown optimizer must fail")


def test_module_entry_point_runs():
    done = subprocess.run(
        [sys.executable, "-m", "minivelo", "--help"], capture_output=True, text=True, check=True
    )
    assert "compare" in done.stdout
