"""Knowledge Evolution (Taha et al., CVPR 2021, arXiv 2103.05152) as a task: see :mod:`.task`."""
