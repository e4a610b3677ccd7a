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
   and include their first trace. Each repeat runs the two back to back
   (alternating which goes first); the median and range of the per-repeat
   ratios self-sizing / fixed are reported (target <= 1.5). Variants: no
   XLA with DiffRNN's default of 8 recurrent slots allocated up front; XLA
   with 8 slots (growth past 8 reallocates to 16, and under XLA that is a
   full recompile); XLA with 16 slots reserved up front (no recompile).
3. What deleted residual blocks cost: a `MultiplierResidualStack` with 8
   block slots of which 2 are active, against one with exactly 2 slots
   (and one with all 8 active), 256 features, batch 256, CPU time per step.

Both wall-clock and process CPU time (all threads) are reported: on a
machine shared with other jobs, wall-clock ratios move with the others'
load, and CPU time is the steadier measure of what a run costs.

Usage:
    python benchmarks/bench_multiplier.py [--steps 3000] [--batch 16] [--repeats 10]
        [--run-repeats 3] [--quick]
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

RUN_VARIANTS = (
    # label, recurrent slots allocated up front, XLA
    ("no XLA, capacity 8", 8, False),  # DiffRNN's default; beyond 8: one retrace
    ("XLA, capacity 8", 8, True),  # beyond 8: one reallocation = one XLA recompile
    ("XLA, capacity 16", 16, True),  # headroom reserved up front: no recompile
)


def _sequences(steps, batch, seed=0):
    inputs, targets = parenthesis_sequences("hard", n_sequences=steps * batch, seed=seed)
    return parenthesis_one_hot(inputs), targets


def self_sizing_run(x, y, batch, capacity, jit, seed=0):
    with _Clock() as clock:
        keras.utils.set_random_seed(seed)  # Keras' initializers draw from the global seed
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


def run_cost(steps, batch, repeats, variants=RUN_VARIANTS):
    """Per variant: self-sizing vs fixed-final-width runs, interleaved.

    Each repeat runs both sides back to back, alternating which goes first,
    so that load from other processes hits both alike; the ratio of each
    repeat is kept, and the median and range of those ratios reported. The
    fixed network's width is the self-sizing run's final width (the runs are
    seeded, so every repeat ends at the same width).
    """
    x, y = _sequences(steps, batch)
    results = {}
    for label, capacity, jit in variants:
        ratios = {"wall": [], "cpu": []}
        seconds = {(side, kind): [] for side in ("self", "fixed") for kind in ("wall", "cpu")}
        width = None
        for repeat in range(repeats):
            if width is None or repeat % 2 == 0:
                grown, width, slots, edits = self_sizing_run(x, y, batch, capacity, jit)
                fixed = fixed_run(x, y, batch, width, jit)
            else:
                fixed = fixed_run(x, y, batch, width, jit)
                grown, width, slots, edits = self_sizing_run(x, y, batch, capacity, jit)
            for kind in ("wall", "cpu"):
                ratios[kind].append(getattr(grown, kind) / getattr(fixed, kind))
                seconds["self", kind].append(getattr(grown, kind))
                seconds["fixed", kind].append(getattr(fixed, kind))
        results[label] = dict(
            width=width,
            capacity=slots,
            edits=edits,
            ratios=ratios,
            seconds={key: statistics.median(values) for key, values in seconds.items()},
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
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--run-repeats", type=int, default=3)
    parser.add_argument("--parts", default="1,2,3", help="which measurements, e.g. 2 or 1,3")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    args = parser.parse_args()
    parts = {part.strip() for part in args.parts.split(",")}
    if not parts <= {"1", "2", "3"}:
        parser.error(f"--parts={args.parts!r} is not allowed; expected a subset of 1,2,3.")
    if args.quick:
        args.steps, args.repeats, args.run_repeats = 60, 2, 2

    if "1" in parts:
        timings = dense_step_ratio(repeats=args.repeats, steps=10 if args.quick else 100)
        target = TARGETS["MultiplierDense step"]
        print(
            "1. MLP 784-512-512-10, batch 256, Adam, ms per training step "
            f"({args.repeats} repeats):"
        )
        for (clock, statistic), values in timings.items():
            ratio = values["MultiplierDense"] / values["Dense"]
            print(
                f"   {clock:4s} {statistic:6s}: Dense {1e3 * values['Dense']:7.2f}, "
                f"MultiplierDense {1e3 * values['MultiplierDense']:7.2f}, "
                f"ratio = {ratio:.3f}  (target <= {target})"
            )

    if "2" in parts:
        target = TARGETS["self-sizing run"]
        print(
            f"2. Self-sizing DiffRNN vs fixed RNN of its final width, hard task, {args.steps} "
            f"steps of batch {args.batch}, {args.run_repeats} interleaved repeats; ratio "
            f"self-sizing / fixed: median [min-max] (target <= {target}):"
        )
        for label, r in run_cost(args.steps, args.batch, args.run_repeats).items():
            print(
                f"   {label:18s} final width {r['width']:2d} (capacity {r['capacity']:2d}), "
                f"{r['edits']:3d} add/delete edits"
            )
            for kind in ("cpu", "wall"):
                values = r["ratios"][kind]
                print(
                    f"      {kind:4s}: self-sizing {r['seconds']['self', kind]:6.1f} s, fixed "
                    f"{r['seconds']['fixed', kind]:6.1f} s (medians); ratio "
                    f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"
                )

    if "3" in parts:
        times = residual_step_times(repeats=args.repeats, steps=10 if args.quick else 100)
        print("3. MultiplierResidualStack on 256 features, batch 256, CPU ms per step (best):")
        for name, value in times.items():
            print(f"   {name:22s} {1e3 * value:7.2f}")
        ratio = times["2 of 8 blocks active"] / times["2 of 2 blocks active"]
        print(f"   6 deleted blocks cost: ratio 2-of-8 / 2-of-2 = {ratio:.3f} (1.0 = free)")


if __name__ == "__main__":
    main()
