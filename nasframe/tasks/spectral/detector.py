"""The spectrum detector of Durall et al. (arXiv 1911.00686): a linear classifier on 1-D azimuthal spectra.

Real images and their reconstructions are told apart from their normalised
azimuthal spectra alone (:func:`~nasframe.tasks.spectral.spectrum.azimuthal_spectrum`)
by a logistic regression on standardised features (scikit-learn), one of the
paper's two classifiers (the other an SVM). Its held-out accuracy is the
task's ``detector_accuracy``: 1.0 when every reconstruction betrays itself,
0.5 when real and reconstructed spectra are indistinguishable.

The images are split into two disjoint parts, drawn with a seed
(:func:`detector_parts`): the detector trains on the real and reconstructed
spectra of the first part and is scored on those of the second, so it never
sees at test time an image (real or reconstructed) it trained on. Both parts
hold each image twice, once real (label 0) and once reconstructed (label 1),
so the classes are balanced and chance is exactly 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from nasframe.core.errors import InvalidSetting

#: images a part needs at least: fewer cannot fit, or score, a classifier meaningfully
MIN_PART = 4


def detector_parts(n: int, train: int, test: int, seed: int | Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint, seeded index sets (detector training, detector test) among ``n`` images.

    ``train``/``test`` are the most images each part takes; a split too
    small for both gets half each (the training part rounded down).
    """
    if train < MIN_PART or test < MIN_PART:
        raise InvalidSetting(f"recipe task options 'detector_train'={train}, 'detector_test'={test}: "
                             f"each must be >= {MIN_PART}")
    if n < 2 * MIN_PART:
        raise InvalidSetting(f"the split has {n} images; the spectrum detector needs at least {2 * MIN_PART}")
    train = min(train, n // 2)
    test = min(test, n - train)
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[:train]), np.sort(order[train:train + test])


def fit_detector(real: np.ndarray, fake: np.ndarray) -> object:
    """A logistic regression telling ``fake`` spectra (label 1) from ``real`` ones (label 0)."""
    x = np.concatenate([real, fake])
    y = np.concatenate([np.zeros(len(real)), np.ones(len(fake))])
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x, y)


def detector_accuracy(real: np.ndarray, fake: np.ndarray, train: np.ndarray, test: np.ndarray) -> float:
    """Held-out accuracy of a detector trained on rows ``train`` of the paired spectra, scored on rows ``test``.

    ``real[i]`` and ``fake[i]`` are the spectra of image ``i`` and of its
    reconstruction; ``train`` and ``test`` must be disjoint.
    """
    if np.intersect1d(train, test).size:
        raise ValueError("detector training and test images overlap")
    detector = fit_detector(real[train], fake[train])
    x = np.concatenate([real[test], fake[test]])
    y = np.concatenate([np.zeros(len(test)), np.ones(len(test))])
    return float((detector.predict(x) == y).mean())


__all__ = ["MIN_PART", "detector_accuracy", "detector_parts", "fit_detector"]
