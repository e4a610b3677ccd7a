"""Cost of group convolutions over a plain convolution of the same expanded shape.

A `GroupConv2D` builds its expanded kernel with one gather and then runs one
ordinary convolution, and a `MixedEquivariantConv` sums six gathered kernels
and runs one convolution (eq. 12 of Maile's thesis). This benchmark times a
compiled forward + backward step (gradients for the input and all weights) of

- `GroupConv2D("D4")`, 16 fields in and out (128 -> 128 channels), 3x3,
  against `keras.layers.Conv2D(128)` on the same 128-channel input
  (target ratio <= 1.10);
- `MixedEquivariantConv` over C1, C2, C4, D1, D2, D4, 16 D4 fields in and out,
  against the same `Conv2D` (target ratio <= 1.25);

on 32x32 inputs with batch 64, in one process. Runs are interleaved
(plain, group, mixed, plain, ...) so that load from other processes hits
every variant alike; the median over the repeats is reported.

Usage:
    python benchmarks/bench_group_conv.py [--batch 64] [--size 32] [--repeats 7]
        [--iterations 3] [--jit]
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

from keras_grow.layers import GroupConv2D, MixedEquivariantConv  # noqa: E402

TARGETS = {"GroupConv2D D4": 1.10, "MixedEquivariantConv": 1.25}


def compiled_step(layer, jit):
    @tf.function(jit_compile=jit, reduce_retracing=True)
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_mean(tf.square(layer(x)))
        gradients = tape.gradient(loss, [x, *layer.trainable_variables])
        # one scalar that depends on every gradient, so nothing is pruned
        return tf.add_n([tf.reduce_sum(g) for g in gradients])

    return step


def time_steps(step, x, iterations):
    start = time.perf_counter()
    for _ in range(iterations):
        step(x).numpy()
    return (time.perf_counter() - start) / iterations


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--fields", type=int, default=16, help="D4 fields in and out")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--iterations", type=int, default=3, help="steps per timed repeat")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--jit", action="store_true", help="compile the steps with XLA")
    args = parser.parse_args()

    channels = args.fields * 8
    keras.utils.set_random_seed(0)
    x = tf.constant(
        np.random.default_rng(0).normal(size=(args.batch, args.size, args.size, channels)),
        dtype="float32",
    )
    layers = {
        "Conv2D (plain)": keras.layers.Conv2D(channels, 3, padding="same"),
        "GroupConv2D D4": GroupConv2D(args.fields, 3, "D4", padding="same"),
        "MixedEquivariantConv": MixedEquivariantConv(args.fields, 3, padding="same"),
    }
    steps = {}
    for name, layer in layers.items():
        layer.build(x.shape)
        steps[name] = compiled_step(layer, args.jit)
        for _ in range(args.warmup):
            steps[name](x).numpy()
    times = {name: [] for name in layers}
    for _ in range(args.repeats):
        for name, step in steps.items():
            times[name].append(time_steps(step, x, args.iterations))

    devices = [d.device_type for d in tf.config.list_logical_devices()]
    print(
        f"forward+backward, batch {args.batch}, {args.size}x{args.size}, {channels}->{channels} "
        f"channels, 3x3, jit={args.jit}, devices={devices}, "
        f"median of {args.repeats} x {args.iterations} steps"
    )
    plain = statistics.median(times["Conv2D (plain)"])
    for name, samples in times.items():
        median = statistics.median(samples)
        line = f"{name:22s} {1000 * median:9.2f} ms   ratio {median / plain:5.3f}"
        if name in TARGETS:
            verdict = "ok" if median / plain <= TARGETS[name] else "ABOVE TARGET"
            line += f"   (target <= {TARGETS[name]:.2f}: {verdict})"
        print(line)
    for name, layer in layers.items():
        print(f"{name:22s} parameters {layer.count_params():>9,}")


if __name__ == "__main__":
    main()
