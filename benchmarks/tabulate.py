"""``python -m benchmarks.tabulate FOLDER OUT``: write the answer table of the benchmark saved in FOLDER.

:func:`benchmarks.answers.load_table` runs this in a subprocess under
:data:`~benchmarks.answers.PORTABLE_ENV` with tables switched off, so that the
table holds the models' own answers, computed on one float path everywhere.
"""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks.answers import SWITCH, build_table, models_key, tables_enabled, write_table
from benchmarks.surrogate import SurrogateBenchmark


def main(argv: list[str] | None = None) -> None:
    folder, out = argv if argv is not None else sys.argv[1:]
    if tables_enabled():
        raise SystemExit(f"set {SWITCH}=0: a table is built from the models")
    benchmark = SurrogateBenchmark.load(folder)
    write_table(build_table(benchmark, models_key(folder, list(benchmark.models))), Path(out))


if __name__ == "__main__":
    main()
