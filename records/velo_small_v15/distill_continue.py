"""v15: v14's distillation continued from its last candidate, with its own runs as data.

    python records/velo_small_v15/distill_continue.py records/velo_small_v15

v14's script (``../velo_small_v14/distill_all_horizons.py``, imported here, not copied) with
three constants changed (SELECTION.md says why): the warm start is v14's
``distilled_it120``, so the data are the teacher's runs plus that student's own runs
(labelled by the teacher: a DAgger round); 180 iterations; a candidate every 90.
"""

import importlib.util
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "distill_all_horizons", ROOT / "records/velo_small_v14/distill_all_horizons.py"
)
v14 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(v14)

v14.WARM_START = ROOT / "records/velo_small_v14/candidates/distilled_it120.msgpack"
v14.ITERATIONS = 180
v14.SNAPSHOT = 90

if __name__ == "__main__":
    v14.main(sys.argv[1])
