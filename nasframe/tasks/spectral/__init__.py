"""The spectral up-convolution task (``spectral-upconv``): Durall et al., arXiv 2003.01826 and 1911.00686.

- :mod:`~nasframe.tasks.spectral.spectrum`: the 1-D azimuthal spectrum (torch, differentiable, and its numpy
  reference) and the spectral loss;
- :mod:`~nasframe.tasks.spectral.detector`: the logistic-regression spectrum detector and its seeded parts;
- :mod:`~nasframe.tasks.spectral.space`: the searched up-sampling ops and spectral loss weight;
- :mod:`~nasframe.tasks.spectral.model`: the autoencoder; :mod:`~nasframe.tasks.spectral.task`: the task.
"""
