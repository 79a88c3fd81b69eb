"""The README's Python example runs as written (from the repository root)."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_readme_python_example_runs(monkeypatch):
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "the README has no Python example"
    monkeypatch.chdir(ROOT)
    for block in blocks:
        namespace: dict = {}
        exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["losses"].shape == (300,)
    assert float(namespace["losses"][-1]) < float(namespace["losses"][0])


def test_readme_setup_block_is_what_ci_runs():
    text = (ROOT / "README.md").read_text()
    setup = text.split("<!-- setup:begin -->")[1].split("<!-- setup:end -->")[0]
    commands = [line.split("#")[0].strip() for line in setup.splitlines()]
    commands = [c for c in commands if c and not c.startswith("```")]
    assert commands[0].startswith("pip install") and ".[all]" in commands[0]
    # installed at the versions the lessons' outputs were made with
    assert "-c .ci/constraints.txt" in commands[0]
    assert (ROOT / ".ci" / "constraints.txt").is_file()
    assert commands[1].startswith("python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text()
    assert "README.md" in ci
    assert ".ci/lessons_from_wheel" in ci and (ROOT / ".ci" / "lessons_from_wheel").is_file()
    assert "3.12" in ci  # CI's Python is the lessons' Python
