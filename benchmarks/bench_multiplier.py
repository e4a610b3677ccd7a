"""What Miconi's neuron multipliers and self-sizing cost.

Measured in one process:

1. Step time of an MLP 784-512-512-10 built from `MultiplierDense` layers
   (multiplier, L1 penalty and floor constraint on both hidden layers)
   against the same MLP of `keras.layers.Dense`, batch 256, compiled
   `model.fit` steps with Adam. Epochs are interleaved (in alternating
   order) so that load from other processes hits both alike; ratios of the
   best and of the median epoch are reported (target <= 1.10; on a shared
   machine the best epoch is the steadier estimate).
2. Whole-run cost of the self-sizing recurrent network (`DiffRNN`, one
   starting neuron, `MultiplierResize` with the paper's rule after every
   update; RMSprop and Keras' initializers as in tutorial 07) on the hard
   parenthesis task against a fixed-size network of its final width trained
   for the same steps on the same data (a plain Keras model with the same
   cell, no DynamicModel, no callback). Both runs start from a fresh model
   and include their first trace; the ratio is wall-clock self-sizing /
   fixed, best of `--run-repeats` (target <= 1.5). Reported for
   DynamicModel's default geometric capacity growth and with `capacity=16`
   slots reserved up front, each without XLA (Keras' default on CPU) and
   with `jit_compile=True`.

Usage:
    python benchmarks/bench_multiplier.py [--steps 1500] [--batch 32] [--repeats 7] [--quick]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_grow.applications import DiffRNN  # noqa: E402
from keras_grow.applications.diff_rnn import PAPER_RULE  # noqa: E402
from keras_grow.callbacks import MultiplierResize  # noqa: E402
from keras_grow.datasets import parenthesis_one_hot, parenthesis_sequences  # noqa: E402
from keras_grow.layers import MultiplierDense, MultiplierSimpleRNNCell  # noqa: E402

TARGETS = {"MultiplierDense step": 1.10, "self-sizing run": 1.5}
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


# ----------------------------------------------------------- 1. layer overhead


def _mlp(layer, width):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((784,)),
            layer(width, activation="relu"),
            layer(width, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(keras.optimizers.Adam(1e-3), LOSS)
    return model


def dense_step_ratio(width=512, batch=256, steps=50, repeats=7):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch * 8, 784)).astype("float32")
    y = rng.integers(0, 10, size=batch * 8)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch).repeat().prefetch(4)
    models = {
        "Dense": _mlp(keras.layers.Dense, width),
        "MultiplierDense": _mlp(MultiplierDense, width),
    }
    for model in models.values():  # trace and warm up
        model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    times = {name: [] for name in models}
    for repeat in range(repeats):
        order = list(models.items())
        for name, model in order if repeat % 2 else order[::-1]:
            start = time.perf_counter()
            model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
            times[name].append((time.perf_counter() - start) / steps)
    return {
        statistic: {name: function(values) for name, values in times.items()}
        for statistic, function in (("best", min), ("median", statistics.median))
    }


# ------------------------------------------------------- 2. self-sizing run


def _sequences(steps, batch, seed=0):
    inputs, targets = parenthesis_sequences("hard", n_sequences=steps * batch, seed=seed)
    return parenthesis_one_hot(inputs), targets


def self_sizing_run(x, y, batch, capacity=None, jit=False, seed=0):
    start = time.perf_counter()
    model = DiffRNN(classifier_activation=None, weight_stddev=None, seed=seed)
    model.compile(keras.optimizers.RMSprop(1e-2), LOSS, jit_compile=jit)
    callback = MultiplierResize(**PAPER_RULE, capacity=capacity, seed=seed)
    model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0, callbacks=[callback])
    elapsed = time.perf_counter() - start
    events = len(model.structure_history)
    return elapsed, model.widths()["recurrent"], model.capacities()["recurrent"], events


def fixed_run(x, y, batch, units, jit=False, seed=0):
    start = time.perf_counter()
    keras.utils.set_random_seed(seed)
    cell = MultiplierSimpleRNNCell(units, multiplier_l1=3e-4)
    model = keras.Sequential(
        [keras.Input((40, 4)), keras.layers.RNN(cell, return_sequences=True), keras.layers.Dense(4)]
    )
    model.compile(keras.optimizers.RMSprop(1e-2), LOSS, jit_compile=jit)
    model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
    return time.perf_counter() - start


def run_cost(steps, batch, repeats):
    x, y = _sequences(steps, batch)
    results = {}
    variants = (
        ("default capacity", None, False),
        ("capacity=16", 16, False),
        ("XLA, default cap.", None, True),
        ("XLA, capacity=16", 16, True),
    )
    for label, capacity, jit in variants:
        grown, fixed = [], []
        for _ in range(repeats):
            elapsed, width, slots, events = self_sizing_run(x, y, batch, capacity, jit)
            grown.append(elapsed)
            fixed.append(fixed_run(x, y, batch, width, jit))
        results[label] = dict(
            width=width,
            capacity=slots,
            events=events,
            self_sizing_s=min(grown),
            fixed_s=min(fixed),
            ratio=min(grown) / min(fixed),
        )
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--run-repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.repeats, args.run_repeats = 60, 2, 1

    timings = dense_step_ratio(repeats=args.repeats, steps=10 if args.quick else 50)
    print(f"1. MLP 784-512-512-10, batch 256, Adam, ms per training step ({args.repeats} repeats):")
    target = TARGETS["MultiplierDense step"]
    for statistic, values in timings.items():
        ratio = values["MultiplierDense"] / values["Dense"]
        print(
            f"   {statistic:6s}: Dense {1e3 * values['Dense']:7.2f}, MultiplierDense "
            f"{1e3 * values['MultiplierDense']:7.2f}, ratio = {ratio:.3f}  (target <= {target})"
        )

    print(
        f"2. Self-sizing DiffRNN vs fixed RNN of its final width, hard task, "
        f"{args.steps} steps of batch {args.batch} (best of {args.run_repeats}):"
    )
    for label, result in run_cost(args.steps, args.batch, args.run_repeats).items():
        print(
            f"   {label:16s} final width {result['width']:3d} (capacity {result['capacity']}), "
            f"{result['events']} structural events: self-sizing {result['self_sizing_s']:.1f} s, "
            f"fixed {result['fixed_s']:.1f} s, ratio = {result['ratio']:.3f}  "
            f"(target <= {TARGETS['self-sizing run']})"
        )


if __name__ == "__main__":
    main()
