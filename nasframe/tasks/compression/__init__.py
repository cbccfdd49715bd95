"""Compression tasks: prune a pre-trained ResNet, searching *how much* to cut where.

Every task starts from one dense CIFAR-style ResNet trained once and cached
(:mod:`.base`), prunes it by a method and fine-tunes the result with the
generic trainer:

- ``prune-hrank`` (:mod:`.hrank`), ``prune-filtersketch`` (:mod:`.filtersketch`)
  and the baselines ``prune-l1``, ``prune-random`` (:mod:`.baselines`): filter
  pruning in the prune-ratio space (:mod:`.space`), objectives accuracy,
  FLOPs, parameters; the network surgery is :mod:`.surgery`;
- ``lottery`` (:mod:`.lottery`): iterative magnitude pruning with rewinding in
  the sparsity-schedule space (:mod:`.lottery_space`), objectives accuracy and
  non-zero parameters.

The registered names are in :data:`nasframe.tasks.compression.tasks.REGISTERED`;
:mod:`nasframe.tasks` registers them by import string, so nothing here is
imported until a compression task is created.
"""
