"""The refit schedule of BANANAS and BO: one fit per 10 new results by default, whatever the batch size."""

from __future__ import annotations

from nasframe.runner import run_search
from nasframe.searchers import BANANAS, SurrogateBO


def _counting(searcher):
    fits = []
    due = searcher._refit_due

    def counted():
        fired = due()
        if fired:
            fits.append(len(searcher.history))
        return fired

    searcher._refit_due = counted
    return fits


def test_default_refits_every_ten_results_at_batch_one(cora):
    assert SurrogateBO(cora.space).fit_every == BANANAS(cora.space).fit_every == 10
    searcher = SurrogateBO(cora.space, seed=1, members=2)
    fits = _counting(searcher)
    history = run_search(searcher, cora, 21, seed=1, batch_size=1)
    assert len(history) == 21 and fits == [10, 20]  # 11 asks from the model, 2 fits


def test_at_batch_ten_the_schedule_changes_nothing(cora):
    """Rounds of 10 refit at every round either way: the batch-10 results (and golden runs) stand."""
    hashes = [run_search(SurrogateBO(cora.space, seed=0, members=2, fit_every=k), cora, 30, seed=0,
                         batch_size=10).to_frame()["hash"].tolist() for k in (1, 10)]
    assert hashes[0] == hashes[1]
