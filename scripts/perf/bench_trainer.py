"""Trainer throughput against a plain hand-written PyTorch loop on the same model and data.

    python scripts/perf/bench_trainer.py --task fashion-mnist --archs 3 --repeats 3
    python scripts/perf/bench_trainer.py --device cuda --precision 16 --data-fraction 1   # on a GPU

Both sides train the same freshly built network (same seed) for one epoch
over the same training images at batch size 128: the plain loop on
tensors prepared beforehand (normalised, no augmentation: the least work a
loop can do), the Trainer through its whole path (per-batch preparation from
``uint8``, its own batching, gradient clipping off, augmentation off, which
the comparison is about: the loop's overhead, not augmentation's cost).
Images per second of training only (the Trainer's per-epoch metric excludes
its validation pass; the plain loop has none). Runs alternate plain/Trainer
per repeat so drifts in the machine's speed hit both; the ratio is of the
medians. One torch thread, as each Ray worker trains. On CUDA the plain loop
holds its whole (prepared) training set on the GPU, and with ``--precision 16``
it uses the same autocast + gradient scaling as the Trainer.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch


def plain_loop(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int, lr: float,
               amp: bool) -> float:
    """One epoch of the textbook loop; images per second."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=3e-4, nesterov=True)
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    order = torch.randperm(len(y), device=x.device)
    _sync(x.device)
    began = time.perf_counter()
    for start in range(0, len(y), batch_size):
        idx = order[start:start + batch_size]
        optimizer.zero_grad()
        with torch.autocast(x.device.type, dtype=torch.float16, enabled=amp):
            loss = loss_fn(model(x[idx]), y[idx])
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    _sync(x.device)
    return len(y) / (time.perf_counter() - began)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    from nasframe.core import load_space
    from nasframe.tasks import Recipe, Trainer, load_task

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="fashion-mnist")
    parser.add_argument("--space", default="nb101")
    parser.add_argument("--archs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-fraction", type=float, default=0.2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="32", choices=["32", "16"])
    args = parser.parse_args()

    torch.set_num_threads(1)
    task = load_task(args.task)
    space = load_space(args.space)
    device = torch.device(args.device)
    recipe = Recipe(epochs=1, batch_size=128, augment=False, grad_clip=None, data_fraction=args.data_fraction,
                    schedule="constant", precision=args.precision)
    subset = task.training_subset(recipe.data_fraction)
    x = task.prepare(task.train.x[subset], recipe).to(device)
    y = torch.from_numpy(task.train.y[subset]).to(device)
    amp = args.precision == "16" and device.type == "cuda"
    ratios = []
    for i, arch in enumerate(space.sample(np.random.default_rng(0), args.archs)):
        plain, framework = [], []
        for _ in range(args.repeats):
            trainer = Trainer(task, recipe, device=device)
            torch.manual_seed(0)
            plain.append(plain_loop(trainer.build(space, arch), x, y, recipe.batch_size, recipe.lr, amp))
            framework.append(trainer.fit(space, arch).history[-1]["images_per_second"])
        ratio = statistics.median(framework) / statistics.median(plain)
        ratios.append(ratio)
        print(f"arch {i}: plain {statistics.median(plain):.0f} img/s, Trainer {statistics.median(framework):.0f} "
              f"img/s, ratio {ratio:.3f}")
    print(f"Trainer / plain loop throughput: median {statistics.median(ratios):.3f} "
          f"(min {min(ratios):.3f}) over {len(ratios)} architectures, {len(y)} images per epoch, "
          f"{device}, precision {args.precision}")


if __name__ == "__main__":
    main()
