"""The 32 budgeted-performance-estimation trials of "Rethinking Performance
Estimation in NAS" (Zheng et al., CVPR 2020), read from their spreadsheet.

Each trial trains the same 100 DARTS architectures under one BPE (a setting
of 8 hyper-parameters: epochs, batch size, learning rate, layers, precision,
channels, cutout, image size) and reports the accuracies, their Spearman
correlation with the architectures' full-training accuracy, and the GPU hours
the BPE cost. Sheet ``Hyperparameters Search`` holds one column per trial;
sheet ``Ground_truth`` the full-training accuracy of the 100 architectures.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from nasframe.core.errors import UserError
#: the spreadsheet's row labels of the 8 BPE hyper-parameters, and our names
HYPERPARAMETERS = {
    "epoch": "epochs",
    "batchsize": "batch_size",
    "learning rate": "learning_rate",
    "n_layers": "layers",
    "fp": "precision_bits",
    "channels": "channels",
    "cutout_len": "cutout",
    "image_size": "image_size",
}
TRIALS_SHEET = "Hyperparameters Search"
TRUTH_SHEET = "Ground_truth"


class BPEFormatError(UserError, ValueError):
    """The spreadsheet does not have the layout described above; the message says where."""


@dataclass
class BPETrials:
    """The trials as tables indexed by trial name (``Task1`` ...)."""

    #: the 8 hyper-parameters per trial
    config: pd.DataFrame
    #: accuracy (%) of each of the 100 architectures (columns) under each trial
    accuracies: pd.DataFrame
    #: full-training accuracy (%) of the architectures
    ground_truth: pd.Series
    #: Spearman correlation of each trial's accuracies with the ground truth, recomputed
    spearman: pd.Series
    #: the correlation and mean GPU hours the spreadsheet reports
    reported_correlation: pd.Series
    gpu_hours: pd.Series

    def table(self) -> pd.DataFrame:
        """One row per trial: hyper-parameters, Spearman (recomputed), GPU hours."""
        return self.config.assign(spearman=self.spearman, gpu_hours=self.gpu_hours)


def _row(sheet: pd.DataFrame, label: str, path: Path) -> int:
    matches = np.flatnonzero(sheet[0].astype(str).str.strip() == label)
    if len(matches) != 1:
        raise BPEFormatError(f"{path}: sheet {TRIALS_SHEET!r} has {len(matches)} rows labelled {label!r}, expected 1")
    return int(matches[0])


def load_bpe_trials(path: str | Path) -> BPETrials:
    """Read the trials spreadsheet (``Search_Hyperparameters_Results.xlsx``)."""
    path = Path(path)
    try:
        sheets = pd.read_excel(path, sheet_name=[TRIALS_SHEET, TRUTH_SHEET], header=None)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:  # a truncated .xlsx is a broken zip
        raise BPEFormatError(f"{path}: not the BPE trials spreadsheet ({exc})") from None
    sheet, truth = sheets[TRIALS_SHEET], sheets[TRUTH_SHEET]
    trials = [str(t).strip() for t in sheet.iloc[0, 1:] if isinstance(t, str)]
    if not trials:
        raise BPEFormatError(f"{path}: sheet {TRIALS_SHEET!r} has no trial names in its first row")
    columns = range(1, len(trials) + 1)

    def numbers(row: int, what: str) -> pd.Series:
        values = pd.to_numeric(sheet.iloc[row, list(columns)], errors="coerce")
        if values.isna().any():
            bad = trials[int(np.flatnonzero(values.isna().to_numpy())[0])]
            raise BPEFormatError(f"{path}: sheet {TRIALS_SHEET!r}, row {row + 1} ({what}): no number for {bad}")
        return pd.Series(values.to_numpy(float), index=trials, name=what)

    config = pd.DataFrame({ours: numbers(_row(sheet, label, path), label) for label, ours in HYPERPARAMETERS.items()})
    arch_rows = np.flatnonzero(sheet[0].astype(str).str.match(r"arch_\d+$"))
    accuracies = pd.DataFrame({str(sheet.iat[r, 0]): numbers(r, str(sheet.iat[r, 0])) for r in arch_rows})
    names = truth.iloc[1:, 0].astype(str).str.lower().str.replace("arch_", "", regex=False)
    ground_truth = pd.Series(pd.to_numeric(truth.iloc[1:, 2], errors="coerce").to_numpy(float),
                             index=[f"arch_{int(n):02d}" for n in names], name="accuracy")
    missing = sorted(set(accuracies.columns) - set(ground_truth.index))
    if missing or ground_truth.isna().any():
        raise BPEFormatError(f"{path}: sheet {TRUTH_SHEET!r} lacks accuracies for {missing[:3] or 'some rows'}")
    truth_in_order = ground_truth[accuracies.columns].to_numpy()
    spearman = pd.Series(
        [float(stats.spearmanr(accuracies.loc[t].to_numpy(), truth_in_order).statistic) for t in trials],
        index=trials, name="spearman",
    )
    return BPETrials(
        config=config,
        accuracies=accuracies,
        ground_truth=ground_truth,
        spearman=spearman,
        reported_correlation=numbers(_row(sheet, "Correlation", path), "Correlation"),
        gpu_hours=numbers(_row(sheet, "MeanTime(GPU Hours)", path), "MeanTime(GPU Hours)"),
    )
