"""Our NB101 regret curves next to the published ones of arch2vec (``../shared/data/peer_results``).

The arch2vec files hold mean regret curves on the tabular NB101 (validation
and test regret against simulated wall-clock seconds of training, up to
1e6 s). Our runs are on the shipped NB101 surrogate benchmark, whose
train-time model gives every query a simulated cost, so both can be read at
the same simulated time::

    python scripts/peer_results.py --store results/nb101/store --peer ../shared/data/peer_results
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

#: our searcher name -> the arch2vec file of the same algorithm
PEERS = {
    "random": "arch2vec_Random-Search-Encoding-A.json",
    "evolution": "arch2vec_Regularized-Evolution-Encoding-A.json",
    "reinforce": "arch2vec_Reinforce-Search-Encoding-A.json",
    "bo": "arch2vec_BO-supervised-nasbench-101.json",
}


def load_peer(path: str | Path) -> pd.DataFrame:
    """One published curve: ``time`` (s), ``valid_regret``, ``test_regret``."""
    data = json.loads(Path(path).read_text())
    try:
        return pd.DataFrame({"time": data["time_plot"], "valid_regret": data["valid_plot"],
                             "test_regret": data["test_plot"]})
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{path} is not an arch2vec result file: {exc}") from None


def at_time(curve: pd.DataFrame, seconds: float, column: str = "valid_regret") -> float:
    """The curve's value at ``seconds`` (the last point not later; NaN before its first point)."""
    position = np.searchsorted(curve["time"].to_numpy(), seconds, side="right") - 1
    return float(curve[column].iat[position]) if position >= 0 else float("nan")


def compare(ours: pd.DataFrame, peer_dir: Path) -> pd.DataFrame:
    """Per searcher: our final regret and mean simulated time, and the peer's regret at that time."""
    rows = []
    last = ours.groupby("run_key").tail(1)
    for searcher, part in last.groupby("searcher"):
        seconds = float(part["cum_cost"].mean())
        row = {"searcher": searcher, "runs": len(part), "queries": int(part["step"].max() + 1),
               "simulated time (s)": seconds, "our regret": float(part["regret"].mean())}
        peer = PEERS.get(searcher)
        if peer and (peer_dir / peer).is_file():
            curve = load_peer(peer_dir / peer)
            row.update({"arch2vec valid regret": at_time(curve, seconds, "valid_regret"),
                        "arch2vec test regret": at_time(curve, seconds, "test_regret")})
        rows.append(row)
    return pd.DataFrame(rows).sort_values("our regret")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True, help="store folder of an NB101 experiment")
    parser.add_argument("--peer", type=Path, required=True, help="the peer_results folder")
    args = parser.parse_args(argv)
    import benchmarks
    from nasframe.analysis import regret
    from nasframe.store import ResultStore

    frame = ResultStore(args.store).load()
    curves = regret(frame, benchmarks.load("nb101"))
    curves["cum_cost"] = frame.loc[frame["benchmark"] == "nb101", "cum_cost"].to_numpy()
    print(compare(curves, args.peer).to_markdown(index=False, floatfmt=".4f"))


if __name__ == "__main__":
    main()
