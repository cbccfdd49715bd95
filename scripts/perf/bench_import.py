"""Cold import of ``nasframe`` against a bare interpreter and against numpy, its one eager dependency.

Each sample is a fresh ``python -c`` process, interleaved with the baselines
so that load on the machine hits all three alike; the figures are the
minimum and median wall seconds. The facade imports only ``nasframe.core``
(numpy and the standard library), so ``import nasframe`` should cost about
``import numpy``. The last row is issue 17's cold start: a fresh process
loading the shipped nb101 benchmark and answering one architecture (torch,
which its GIN needs, timed alone for reference)::

    python scripts/perf/bench_import.py --repeats 20
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

#: the cold start of issue 17: a fresh process to the first answer of the shipped nb101 benchmark
FIRST_ANSWER = (
    "import benchmarks; bench = benchmarks.load('nb101'); "
    "bench.query([{'matrix': [[0, 1, 1], [0, 0, 1], [0, 0, 0]], 'ops': ['input', 'conv3x3-bn-relu', 'output']}])"
)
STATEMENTS = {
    "bare python": "pass",
    "import numpy": "import numpy",
    "import nasframe": "import nasframe",
    "import torch": "import torch",
    "first nb101 answer": FIRST_ANSWER,
}


def _wall(statement: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], check=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    samples: dict[str, list[float]] = {name: [] for name in STATEMENTS}
    for _ in range(args.repeats):
        for name, statement in STATEMENTS.items():
            samples[name].append(_wall(statement))
    numpy_median = statistics.median(samples["import numpy"])
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:20s} min {min(values):.3f} s  median {median:.3f} s  "
              f"({median / numpy_median:.2f}x import numpy)")


if __name__ == "__main__":
    main()
