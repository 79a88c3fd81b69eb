"""Command line: ``python -m minivelo <command> [options]``.

Each command lives in the module that owns the capability; this file only dispatches, so
``python -m minivelo --help`` lists every command and nothing heavy is imported before
one is chosen.
"""

from __future__ import annotations

import importlib
import sys

# command name -> (module with a ``main(argv) -> int`` function, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "compare": ("minivelo.compare", "train one offline problem with several optimizers"),
    "figures": ("minivelo.figures", "regenerate every figure in figures/"),
    "meta-train": ("minivelo.meta.cli", "meta-train a learned optimizer from a JSON config"),
    "meta-eval": ("minivelo.meta.evaluate", "a meta-trained optimizer vs default and tuned Adam"),
    "meta-bench": ("minivelo.meta.benchmark", "meta-training throughput vs plain Adam training"),
    "bench": ("minivelo.bench.cli", "optimizers vs learning-rate-tuned Adam on named tasks"),
    "sweep-bench": ("minivelo.bench.sweep_benchmark", "vmapped lr sweep vs runs in turn"),
    "velo-bench": ("minivelo.lopt.velo.benchmark", "VeLO step time vs Adam, XLA temp bytes"),
    "velo-eval": ("minivelo.bench.velo_eval", "VeLO vs default and tuned Adam on unseen tasks"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m minivelo <command> [options]\n\ncommands:")
        for name, (_, text) in COMMANDS.items():
            print(f"  {name:<12} {text}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"minivelo: unknown command {name!r}; choose one of {', '.join(COMMANDS)}")
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
