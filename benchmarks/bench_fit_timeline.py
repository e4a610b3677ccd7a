"""Where the time of a 20-epoch `fit` goes, for the NORTH* MLP runs.

Four runs of the growing-run benchmark's setting (MNIST-5k, batch 512,
Adam 3e-4, `DynamicModel`s), in interleaved rounds with seeds 0, 1, …:

- `medium_static`: 784-256-256-10;
- `small_static`: 784-64-64-10;
- `taps_only`: 64-64 with `Neurogenesis` at γ_a = 10 (its taps record and its
  trigger evaluates, but never fires);
- `growing`: 64-64 with `Neurogenesis` at γ_a = 0.97 (NORTH-Select, 1 000
  candidates, `max_units=784`, `buffer_size=1568`).

Each run's wall clock is split into its first step (which traces and first
runs the train step), the other steps, the callbacks after each step (the
growth), and the rest: `on_train_begin` and the 20 epochs' data iterator
set-up and ends. Medians over the rounds are printed.

Run: `python benchmarks/bench_fit_timeline.py [--rounds 4]`.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import keras  # noqa: E402
from bench_neurogenesis import mlp  # noqa: E402

import keras_grow  # noqa: E402
from keras_grow import growth  # noqa: E402


class StepEdges(keras.callbacks.Callback):
    """Times of each step's start and end (put it first in the callback list)."""

    def __init__(self):
        super().__init__()
        self.starts, self.ends = [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.starts.append(time.perf_counter())

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())


class CallbacksDone(keras.callbacks.Callback):
    """When the callbacks before it have finished each step (put it last)."""

    def __init__(self):
        super().__init__()
        self.times = []

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())


RUNS = {
    "medium_static": ((256, 256), None),
    "small_static": ((64, 64), None),
    "taps_only": ((64, 64), 10.0),
    "growing": ((64, 64), 0.97),
}


def timeline(hidden, gamma, seed, x, y, epochs):
    model = mlp(hidden, seed, 3e-4)
    edges, done = StepEdges(), CallbacksDone()
    callbacks = [edges]
    if gamma is not None:
        trigger = growth.ActivationTrigger(gamma=gamma, epsilon=0.01)
        callbacks.append(
            keras_grow.callbacks.Neurogenesis(
                trigger, growth.NorthSelect(1000, 0.01), max_units=784, buffer_size=1568
            )
        )
    callbacks.append(done)
    gc.collect()
    start = time.perf_counter()
    model.fit(x, y, epochs=epochs, batch_size=512, verbose=0, callbacks=callbacks)
    total = time.perf_counter() - start
    steps = [end - begin for begin, end in zip(edges.starts, edges.ends)]
    after = sum(d - e for e, d in zip(edges.ends, done.times))
    parts = {"total": total, "first_step": steps[0], "other_steps": sum(steps[1:])}
    parts["callbacks_after_steps"] = after
    parts["rest"] = total - sum(steps) - after
    parts["widths"] = [model.widths()[name] for name in ("hidden1", "hidden2")]
    return parts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    (x, y), _ = keras_grow.datasets.mnist_5k(seed=0, test_size=1000, flatten=True)
    runs = {name: [] for name in RUNS}
    for seed in range(args.rounds):
        for name, (hidden, gamma) in RUNS.items():
            runs[name].append(timeline(hidden, gamma, seed, x, y, args.epochs))
    result = {
        name: {
            key: round(statistics.median(run[key] for run in values), 3)
            for key in values[0]
            if key != "widths"
        }
        for name, values in runs.items()
    }
    result["growing_widths"] = [run["widths"] for run in runs["growing"]]
    result["rounds"], result["epochs"] = args.rounds, args.epochs
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
