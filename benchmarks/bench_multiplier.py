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
   and include their first trace; the ratio is self-sizing / fixed, best of
   `--run-repeats` (target <= 1.5). Reported for DiffRNN's default of 8
   recurrent slots allocated up front and for 1 slot (capacity then grows
   1, 2, 4, 8, ..., one retrace each), each without XLA (Keras' default on
   CPU) and with `jit_compile=True`.
3. What deleted residual blocks cost: a `MultiplierResidualStack` with 8
   block slots of which 2 are active, against one with exactly 2 slots
   (and one with all 8 active), 256 features, batch 256, CPU time per step.

Both wall-clock and process CPU time (all threads) are reported: on a
machine shared with other jobs, wall-clock ratios move with the others'
load, and CPU time is the steadier measure of what a run costs.

Usage:
    python benchmarks/bench_multiplier.py [--steps 1500] [--batch 32] [--repeats 10]
        [--run-repeats 2] [--quick]
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
from keras_grow.layers import (  # noqa: E402
    MultiplierDense,
    MultiplierResidualStack,
    MultiplierSimpleRNNCell,
)

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


class _Clock:
    """Wall-clock and process CPU seconds (all threads) of a `with` block."""

    def __enter__(self):
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


def dense_step_ratio(width=512, batch=256, steps=100, repeats=10):
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
    times = {(name, clock): [] for name in models for clock in ("wall", "cpu")}
    for repeat in range(repeats):
        order = list(models.items())
        for name, model in order if repeat % 2 else order[::-1]:
            with _Clock() as clock:
                model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
            times[name, "wall"].append(clock.wall / steps)
            times[name, "cpu"].append(clock.cpu / steps)
    return {
        (clock, statistic): {name: function(times[name, clock]) for name in models}
        for clock in ("wall", "cpu")
        for statistic, function in (("best", min), ("median", statistics.median))
    }


# ------------------------------------------------------- 2. self-sizing run


def _sequences(steps, batch, seed=0):
    inputs, targets = parenthesis_sequences("hard", n_sequences=steps * batch, seed=seed)
    return parenthesis_one_hot(inputs), targets


def self_sizing_run(x, y, batch, capacity, jit, seed=0):
    with _Clock() as clock:
        model = DiffRNN(
            classifier_activation=None, weight_stddev=None, capacity=capacity, seed=seed
        )
        model.compile(keras.optimizers.RMSprop(1e-2), LOSS, jit_compile=jit)
        callback = MultiplierResize(**PAPER_RULE, seed=seed)
        model.fit(x, y, batch_size=batch, shuffle=False, verbose=0, callbacks=[callback])
    edits = sum(e.operation in ("add_units", "remove_units") for e in model.structure_history)
    return clock, model.widths()["recurrent"], model.capacities()["recurrent"], edits


def fixed_run(x, y, batch, units, jit, seed=0):
    with _Clock() as clock:
        keras.utils.set_random_seed(seed)
        cell = MultiplierSimpleRNNCell(units, multiplier_l1=3e-4)
        rnn = keras.layers.RNN(cell, return_sequences=True)
        model = keras.Sequential([keras.Input((40, 4)), rnn, keras.layers.Dense(4)])
        model.compile(keras.optimizers.RMSprop(1e-2), LOSS, jit_compile=jit)
        model.fit(x, y, batch_size=batch, shuffle=False, verbose=0)
    return clock


def run_cost(steps, batch, repeats):
    x, y = _sequences(steps, batch)
    results = {}
    variants = (
        ("capacity 8", 8, False),  # DiffRNN's default
        ("capacity 1", None, False),  # no slots reserved: grows 1, 2, 4, 8, ...
        ("XLA, capacity 8", 8, True),
        ("XLA, capacity 1", None, True),
    )
    for label, capacity, jit in variants:
        grown, fixed = [], []
        for _ in range(repeats):
            clock, width, slots, edits = self_sizing_run(x, y, batch, capacity, jit)
            grown.append(clock)
            fixed.append(fixed_run(x, y, batch, width, jit))
        results[label] = dict(
            width=width,
            capacity=slots,
            edits=edits,
            **{
                f"{name}_{kind}": min(getattr(c, kind) for c in clocks)
                for name, clocks in (("self", grown), ("fixed", fixed))
                for kind in ("wall", "cpu")
            },
        )
    return results


# ------------------------------------------------ 3. deleted residual blocks


def _stack_model(max_blocks, active, width=256):
    keras.utils.set_random_seed(0)
    stack = MultiplierResidualStack(max_blocks=max_blocks, initial_blocks=active)
    model = keras.Sequential(
        [keras.Input((784,)), keras.layers.Dense(width), stack, keras.layers.Dense(10)]
    )
    model.compile(keras.optimizers.Adam(1e-3), LOSS)
    return model


def residual_step_times(batch=256, steps=100, repeats=10):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch * 8, 784)).astype("float32")
    y = rng.integers(0, 10, size=batch * 8)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch).repeat().prefetch(4)
    models = {
        "2 of 2 blocks active": _stack_model(2, 2),
        "2 of 8 blocks active": _stack_model(8, 2),
        "8 of 8 blocks active": _stack_model(8, 8),
    }
    for model in models.values():
        model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    times = {name: [] for name in models}
    for repeat in range(repeats):
        order = list(models.items())
        for name, model in order if repeat % 2 else order[::-1]:
            with _Clock() as clock:
                model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
            times[name].append(clock.cpu / steps)
    return {name: min(values) for name, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--run-repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.repeats, args.run_repeats = 60, 2, 1

    timings = dense_step_ratio(repeats=args.repeats, steps=10 if args.quick else 100)
    target = TARGETS["MultiplierDense step"]
    print(f"1. MLP 784-512-512-10, batch 256, Adam, ms per training step ({args.repeats} repeats):")
    for (clock, statistic), values in timings.items():
        ratio = values["MultiplierDense"] / values["Dense"]
        print(
            f"   {clock:4s} {statistic:6s}: Dense {1e3 * values['Dense']:7.2f}, MultiplierDense "
            f"{1e3 * values['MultiplierDense']:7.2f}, ratio = {ratio:.3f}  (target <= {target})"
        )

    target = TARGETS["self-sizing run"]
    print(
        f"2. Self-sizing DiffRNN vs fixed RNN of its final width, hard task, {args.steps} "
        f"steps of batch {args.batch}, seconds (best of {args.run_repeats}):"
    )
    for label, r in run_cost(args.steps, args.batch, args.run_repeats).items():
        print(
            f"   {label:15s} final width {r['width']:2d} (capacity {r['capacity']:2d}), "
            f"{r['edits']:3d} add/delete edits"
        )
        for kind in ("wall", "cpu"):
            ratio = r[f"self_{kind}"] / r[f"fixed_{kind}"]
            print(
                f"      {kind:4s}: self-sizing {r[f'self_{kind}']:6.1f}, fixed "
                f"{r[f'fixed_{kind}']:6.1f}, ratio = {ratio:.3f}  (target <= {target})"
            )

    times = residual_step_times(repeats=args.repeats, steps=10 if args.quick else 100)
    print("3. MultiplierResidualStack on 256 features, batch 256, CPU ms per step (best):")
    for name, value in times.items():
        print(f"   {name:22s} {1e3 * value:7.2f}")
    ratio = times["2 of 8 blocks active"] / times["2 of 2 blocks active"]
    print(f"   6 deleted blocks cost: ratio 2-of-8 / 2-of-2 = {ratio:.3f} (1.0 = free)")


if __name__ == "__main__":
    main()
