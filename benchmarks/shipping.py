"""How the shipped benchmarks and the surrogate table of ``docs/SURROGATES.md`` are made.

Both come from the real data of the shared kit (``../shared/data``), which
is never shipped: only the fitted models are, in ``benchmarks/models/``.

    python -m benchmarks.shipping --data ../shared/data --table    # every family, held-out table
    python -m benchmarks.shipping --data ../shared/data --ship     # refit the shipped models

A :class:`ShippingPlan` fixes the data file, its loader, the fidelity, the
split and the surrogate configuration, so the numbers in the docs and the
models in the package are reproducible from this file alone. (A *training*
recipe is another thing: :class:`nasframe.tasks.Recipe`.)
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.build import build_benchmark, record_optimum
from benchmarks.catalog import MODELS, load_results
from benchmarks.surrogate import SurrogateBenchmark

#: the families of the comparison table, and how many members each gets there
TABLE_FAMILIES = ("xgb", "lgb", "rf", "gin")


@dataclass(frozen=True)
class ShippingPlan:
    """How one shipped benchmark and its row of the comparison table are fitted."""

    name: str
    #: file under the data kit, and its format for :func:`benchmarks.load_results`
    data: str
    format: str
    epochs: int | None
    split: tuple[float, float, float]
    #: what the shipped benchmark uses: families and their hyper-parameters
    ship: tuple[str, ...]
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    members: int = 10
    #: hyper-parameters per family for the comparison table
    table_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: metrics the space determines exactly, answered by the named function instead of a model
    exact: dict[str, str] = field(default_factory=dict)


#: half the default rounds at twice the rate: the same held-out tau at half the size on disk
#: (the trade-off table of docs/PERFORMANCE.md)
SHIPPED_XGB = {"n_estimators": 150, "learning_rate": 0.1}

PLANS = {
    "nb101": ShippingPlan(
        name="nb101",
        data="nb101/nb101_by_hash_part_a.json",
        format="nb101-json",
        epochs=108,
        split=(0.8, 0.1, 0.1),
        ship=("gin",),
        params={"gin": {"epochs": 30}},
        members=5,  # half the members of the table: twice the query rate, the same spread for the noise
        table_params={"gin": {"epochs": 30}},
        # the builder reproduces every published trainable_parameters: no model's guess needed
        exact={"params": "search_spaces.nb101.parameters:parameter_counts"},
    ),
    "enas": ShippingPlan(
        name="enas",
        data="enas/enas6_dvae_weight_sharing.txt",
        format="dvae",
        epochs=None,
        split=(0.9, 0.0, 0.1),  # D-VAE's 90/10 (after its 1,000-line burn-in)
        ship=("xgb",),  # ranks like the GIN here at twice its query rate (docs/SURROGATES.md)
        params={"xgb": SHIPPED_XGB},
        table_params={"gin": {"epochs": 30}},
    ),
    "nb301": ShippingPlan(
        name="nb301",
        data="darts/naslib_zc_nasbench301.json",
        format="naslib-darts",
        epochs=None,
        split=(0.8, 0.1, 0.1),
        ship=("xgb",),  # the GIN ranks better but is slow on 30-node graphs (docs/SURROGATES.md)
        params={"xgb": SHIPPED_XGB},
    ),
}


def _results(plan: ShippingPlan, data_dir: Path):
    path = data_dir / plan.data
    if not path.is_file():
        raise FileNotFoundError(f"benchmark {plan.name!r} needs {path} (the shared data kit)")
    return load_results(path, plan.format)


def table(plan: ShippingPlan, data_dir: Path, members: int = 10) -> pd.DataFrame:
    """Held-out metrics of every family and their pooled ensemble on one dataset."""
    results = _results(plan, data_dir)
    start = time.perf_counter()
    built = build_benchmark(
        results, name=plan.name, surrogates=TABLE_FAMILIES, members=members,
        params=plan.table_params, epochs=plan.epochs, split=plan.split, auxiliary=False,
        format=plan.format,
    )
    report = built.report.assign(dataset=plan.name, n_train=built.benchmark.card["split"]["train"],
                                 n_test=built.benchmark.card["split"]["test"])
    print(f"[{plan.name}] table fitted in {time.perf_counter() - start:.0f} s")
    return report


def ship(plan: ShippingPlan, data_dir: Path, out: Path = MODELS) -> Path:
    """Fit the shipped configuration, record its optimum and save it as ``out/<name>``."""
    results = _results(plan, data_dir)
    built = build_benchmark(
        results, name=plan.name, surrogates=plan.ship, members=plan.members,
        params=plan.params, epochs=plan.epochs, split=plan.split, format=plan.format,
    )
    print(built.report.to_string(index=False))
    bench = built.benchmark
    if plan.exact:  # the exact metrics replace the auxiliary models fitted for them
        models = {m: model for m, model in bench.models.items() if m not in plan.exact}
        bench = SurrogateBenchmark(bench.name, bench.space, models, bench.fidelities[0], bench.card, plan.exact)
    if plan.name == "nb101":  # small enough to score every cell: the exact optimum
        from search_spaces.nb101.enumeration import load_index

        index = load_index()
        record_optimum(bench, index.cells(range(len(index))), "all 423,624 NB101 cells")
        bench.card["answer_table"] = True  # answered from a table of every cell (benchmarks.answers)
    else:
        record_optimum(bench, list(results.archs.values()), "architectures of the data (a lower bound)")
    return bench.save(out / plan.name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the shared data kit folder")
    parser.add_argument("--only", choices=sorted(PLANS), action="append", help="limit to these benchmarks")
    parser.add_argument("--table", action="store_true", help="print the held-out comparison table")
    parser.add_argument("--ship", action="store_true", help="refit and save the shipped models")
    parser.add_argument("--members", type=int, default=10, help="ensemble members per family in the table")
    args = parser.parse_args(argv)
    chosen = [PLANS[n] for n in (args.only or sorted(PLANS))]
    if args.table:
        frames = [table(r, args.data, args.members) for r in chosen]
        columns = ["dataset", "model", "r2", "kendall_tau", "sparse_kendall_tau", "spearman", "n_train", "n_test"]
        print(pd.concat(frames)[columns].to_markdown(index=False, floatfmt=".3f"))
    if args.ship:
        for plan in chosen:
            print(f"[{plan.name}] saved to {ship(plan, args.data)}")


if __name__ == "__main__":
    main()
