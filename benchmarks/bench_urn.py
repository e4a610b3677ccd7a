"""URN speed: train step vs a four-matmul floor, extracted-MLP inference, regulariser share.

Run: `python benchmarks/bench_urn.py [--sizes 500 2000 5000] [--batch 256] [--repeats 7]`.
Everything runs in one process; every timing is the median (and min) of `--repeats`
calls of a compiled (tf.function) step after two warm-up calls, the variants interleaved.

1. Step of `URNLayer(size=S, iterations=4)` with c_W and c_N vs the cost floor: the
   forward and backward pass of four dense S x S matmuls (with ReLU) on a batch, gradient
   w.r.t. the matrix only, no optimizer. Reported for the URN's forward+backward alone
   ("grad") and for the whole Keras train step with Adam ("train"), with the share of the
   train step spent on each regulariser (c_N includes the full last update it needs).
2. The synaptic-length penalty's share for a geometric URN (dense-cached and tiled).
3. Inference of a URN that contains the paper's emergent MLP (10-115-4-3-2, Fig. 3)
   vs the explicit MLP returned by `extract_structure(...).to_keras()`.
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

from keras_grow.analysis import extract_structure  # noqa: E402
from keras_grow.layers import URNGeometry, URNLayer  # noqa: E402

D_IN, D_OUT, ITERATIONS = 10, 2, 4


def median_times(fns, repeats, warmup=2):
    """(median, min) time of each function; calls are interleaved round by round so that
    a change in machine load affects every variant alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(v), min(v)) for name, v in times.items()}


def fmt(t):
    return f"{1e3 * t[0]:7.1f} ({1e3 * t[1]:7.1f})"


def ratio(a, b):
    return f"{a[0] / b[0]:.2f} ({a[1] / b[1]:.2f})"


def floor_step(size, batch):
    """Forward + backward of four dense S x S matmuls, gradient w.r.t. W only."""
    w = tf.Variable(tf.random.normal((size, size), stddev=(2.0 / size) ** 0.5))
    h0 = tf.random.normal((batch, size))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            h = h0
            for _ in range(ITERATIONS):
                h = tf.nn.relu(tf.matmul(h, w))
            loss = tf.reduce_sum(h)
        return tape.gradient(loss, w)

    return lambda: step().numpy()


def urn_model(size, weight_l1, activity_l1, input_shape=(D_IN,), **kwargs):
    keras.utils.set_random_seed(0)
    urn = URNLayer(
        size=size,
        iterations=ITERATIONS,
        output_dim=D_OUT,
        weight_l1=weight_l1,
        activity_l1=activity_l1,
        **kwargs,
    )
    model = keras.Sequential([keras.Input(input_shape), urn])
    model.compile(
        keras.optimizers.Adam(7e-4),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def gradient_step(model, batch):
    """Forward + backward of the URN model with its regularisers, no optimizer."""
    x = tf.random.normal((batch, *model.inputs[0].shape[1:]))
    kernel = model.layers[-1].kernel

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(x)) + tf.add_n(model.losses)
        return tape.gradient(loss, kernel)

    return lambda: step().numpy()


def train_step(model, batch):
    shape = (batch, *model.inputs[0].shape[1:])
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    y = np.arange(batch) % D_OUT
    return lambda: model.train_on_batch(x, y)


def embedded_paper_mlp(size, widths=(D_IN, 115, 4, 3, D_OUT), seed=0):
    """A URN of `size` neurons whose weights hold an MLP with the paper's emergent widths."""
    rng = np.random.default_rng(seed)
    starts = list(np.cumsum((0,) + widths[:-1]))
    starts[-1] = size - widths[-1]
    kernel = np.zeros((size, size), "float32")
    bias = np.full(size, -1.0, "float32")
    bias[:D_IN] = 0.0
    for k in range(1, len(widths)):
        rows = slice(starts[k - 1], starts[k - 1] + widths[k - 1])
        cols = slice(starts[k], starts[k] + widths[k])
        scale = (2.0 / widths[k - 1]) ** 0.5
        kernel[rows, cols] = rng.normal(scale=scale, size=(widths[k - 1], widths[k]))
        bias[cols] = -0.05
    urn = URNLayer(size=size, iterations=len(widths) - 1, output_dim=D_OUT)
    model = keras.Sequential([keras.Input((D_IN,)), urn])
    urn.kernel.assign(kernel)
    urn.bias.assign(bias)
    return urn, model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000, 5000])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"TF {tf.__version__}, Keras {keras.__version__}, batch {args.batch}, ", end="")
    print(f"median of {args.repeats}")

    print(
        "\n1. step time, ms: median (min). floor = fwd+bwd of 4 dense S x S matmuls;"
        "\n   grad = URN fwd+bwd with c_W, c_N, no optimizer; train = Keras train step, Adam"
    )
    for size in args.sizes:
        t = median_times(
            {
                "floor": floor_step(size, args.batch),
                "grad": gradient_step(urn_model(size, 5e-7, 2e-5), args.batch),
                "train": train_step(urn_model(size, 5e-7, 2e-5), args.batch),
                "train c_W only": train_step(urn_model(size, 5e-7, 0.0), args.batch),
                "train no reg": train_step(urn_model(size, 0.0, 0.0), args.batch),
            },
            args.repeats,
        )
        print(f"  S={size}: " + ", ".join(f"{k} {fmt(v)}" for k, v in t.items()))
        share_w = (t["train c_W only"][0] - t["train no reg"][0]) / t["train"][0]
        share_n = (t["train"][0] - t["train c_W only"][0]) / t["train"][0]
        print(
            f"    ratio grad/floor = {ratio(t['grad'], t['floor'])}, "
            f"train/floor = {ratio(t['train'], t['floor'])}; "
            f"share of the train step: c_W {100 * share_w:.0f}%, c_N {100 * share_n:.0f}%"
        )

    print("\n2. train step with the synaptic-length penalty (20 x 20 grid x 5 planes, S=2000)")
    geometry = URNGeometry((20, 20), depth=5)
    spatial = {"geometry": geometry, "input_shape": (20, 20)}
    syn = {"synaptic_l1": 1e-6}
    t = median_times(
        {
            "without": train_step(urn_model(None, 5e-7, 2e-5, **spatial), args.batch),
            "dense-cached d^gamma": train_step(
                urn_model(None, 5e-7, 2e-5, **syn, **spatial), args.batch
            ),
            "tiled, 256 rows": train_step(
                urn_model(None, 5e-7, 2e-5, synaptic_tile_rows=256, **syn, **spatial), args.batch
            ),
        },
        args.repeats,
    )
    for label in ("dense-cached d^gamma", "tiled, 256 rows"):
        share = 100 * (t[label][0] - t["without"][0]) / t[label][0]
        print(f"  {label:22s}: {fmt(t[label])} vs {fmt(t['without'])} without, share {share:.0f}%")

    print("\n3. inference (ms per batch of 1024), URN holding a 10-115-4-3-2 MLP")
    x = np.random.default_rng(0).normal(size=(1024, D_IN)).astype("float32")
    for size in args.sizes:
        urn, model = embedded_paper_mlp(size)
        mlp = extract_structure(urn, x).to_keras()
        np.testing.assert_allclose(mlp.predict_on_batch(x), model.predict_on_batch(x), atol=1e-4)
        t = median_times(
            {
                "urn": lambda m=model: m.predict_on_batch(x),
                "mlp": lambda m=mlp: m.predict_on_batch(x),
            },
            args.repeats,
        )
        t_urn, t_mlp = t["urn"][0], t["mlp"][0]
        widths = [layer.units for layer in mlp.layers if hasattr(layer, "units")]
        print(
            f"  S={size:5d}: URN {1e3 * t_urn:8.2f}, MLP {widths} {1e3 * t_mlp:6.2f}"
            f"   speed-up x{t_urn / t_mlp:.0f}"
        )


if __name__ == "__main__":
    main()
