"""What a meta-learning step of the self-organising hierarchy costs, against plain training.

One process, the paper's MNIST geometry (20x40 map, 3 units of 100 hidden
units, 10x10 fields) on MNIST-5k's 4 000 training images (20x20 centre crop):

1. `train`: `soh.fit(x, epochs=E)`, base learning of the same units for the
   same epochs (per-epoch entropy included, as Algorithm 1 estimates it).
2. `trial`: one meta-step trial of Algorithm 2, i.e. propose a +-1 move, set
   the masks (and optimizer slots), retrain `E` epochs, estimate entropy,
   accept or revert. Measured as `soh.search(x, meta_steps=1)` divided by
   the number of trials it ran (1 to 3).

Both sides are warmed up (traced) first and measured alternately, `repeats`
times; the medians and their ratio are printed, in wall-clock and in process
CPU time (less sensitive to other processes on a shared machine); target:
trial <= 1.2x train.

Run: `python benchmarks/bench_soh.py [--quick] [--epochs E] [--repeats R]`.
"""

import argparse
import json
import statistics
import time

import keras_grow.datasets
from keras_grow.search import SelfOrganizingHierarchy


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="1 000 images, 3 repeats")
    args = parser.parse_args()
    (x, _), _ = keras_grow.datasets.mnist_5k(seed=0)
    x = x[:, 4:24, 4:24, 0]
    repeats = args.repeats
    if args.quick:
        x, repeats = x[:1000], 3

    soh = SelfOrganizingHierarchy(layout="random", seed=0)
    soh.fit(x[:256], epochs=1)  # trace the training step
    soh.search(x[:256], meta_steps=1)  # and the optimizer-slot / mask path
    train, trial, step, train_cpu, trial_cpu = [], [], [], [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        soh.fit(x, epochs=args.epochs)
        train.append(time.perf_counter() - start)
        train_cpu.append(time.process_time() - start_cpu)
        start, start_cpu = time.perf_counter(), time.process_time()
        trials = soh.search(x, meta_steps=1, epochs_per_step=args.epochs)
        elapsed = time.perf_counter() - start
        trial.append(elapsed / len(trials))
        trial_cpu.append((time.process_time() - start_cpu) / len(trials))
        step.append(elapsed)
    result = {
        "images": len(x),
        "epochs": args.epochs,
        "repeats": repeats,
        "train_s": statistics.median(train),
        "trial_s": statistics.median(trial),
        "meta_step_s": statistics.median(step),
        "trial_over_train": statistics.median(trial) / statistics.median(train),
        "trial_over_train_cpu": statistics.median(trial_cpu) / statistics.median(train_cpu),
    }
    print(
        f"train {result['train_s']:.3f} s | meta-step trial {result['trial_s']:.3f} s | "
        f"ratio trial/train {result['trial_over_train']:.3f} wall, "
        f"{result['trial_over_train_cpu']:.3f} CPU time (target <= 1.2) | "
        f"whole meta-step (1-3 trials) {result['meta_step_s']:.3f} s"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
