"""NORTH-Select's selections: how the candidate products are multiplied.

Every growth event multiplies the buffered input rows by freshly drawn
candidate fan-ins (about 512 x 577 times 577 x 1 002 on the MNIST MLP) and
projects the candidates' activations on the existing units' span.
`north_initializers._matmul` calls `tf.matmul` directly; it used
`keras.ops.matmul` before, whose conversions to and from tensors copy the
product. A third kernel, `tf.einsum`, checks whether oneDNN's `MatMul` loses
time re-packing a right operand it has not seen before (every event's
candidates are new): in isolation it does, on real selections it does not
matter. The benchmark records the selections (`ScoringRows` and its
`select`, replayed as `select_candidate_columns` calls) of one
NORTH-Select growing run (the MLP of `bench_neurogenesis.py --only growing`,
seed 0, Adam 3e-4, 20 epochs), then replays all of them with each kernel, in
interleaved rounds, each call after one Medium Static training step (as in a
run, the step has just evicted the caches). It prints the median
milliseconds per selection of each kernel, the ratios to `tf.matmul`, and
whether all kernels picked the same candidates.

Run: `python benchmarks/bench_selection_kernel.py [--rounds 12]`.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from bench_neurogenesis import mlp  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import keras_grow  # noqa: E402
from keras_grow import growth  # noqa: E402
from keras_grow.growth import north_initializers as north  # noqa: E402


def einsum_kernel(a, b):
    """TensorFlow's einsum kernel (no oneDNN `MatMul` packing)."""
    return tf.einsum("ij,jk->ik", np.asarray(a, np.float32), np.asarray(b, np.float32)).numpy()


def keras_matmul_kernel(a, b):
    """The kernel `_matmul` used before: `keras.ops.matmul`, with Keras'
    conversions to and from tensors (a copy of the product)."""
    product = keras.ops.matmul(
        keras.ops.convert_to_tensor(np.asarray(a, np.float32)),
        keras.ops.convert_to_tensor(np.asarray(b, np.float32)),
    )
    return np.asarray(keras.ops.convert_to_numpy(product), np.float32)


KERNELS = {"tf_matmul": north._matmul, "einsum": einsum_kernel, "keras_matmul": keras_matmul_kernel}


def record_selections(x, y, epochs):
    """The arguments of every selection of one growing run, as
    `select_candidate_columns` takes them (NorthSelect prepares the scored rows
    with `ScoringRows` while its candidates are drawn, then selects)."""
    calls, prepare, select = [], north.ScoringRows.__init__, north.ScoringRows.select

    def recording_prepare(self, inputs, existing, epsilon=0.01, rows=None, rng=None, active=None):
        self.recorded = (np.array(inputs), np.array(existing), epsilon, rows, copy.deepcopy(rng))
        self.recorded_active = None if active is None else np.array(active)
        prepare(self, inputs, existing, epsilon, rows, rng, active)

    def recording_select(self, columns, count, post=None, factors=None):
        inputs, existing, epsilon, rows, rng = self.recorded
        kwargs = dict(post=post, epsilon=epsilon, rows=rows, rng=rng, active=self.recorded_active)
        calls.append(((inputs, existing, np.array(columns), count), {**kwargs, "factors": factors}))
        return select(self, columns, count, post, factors)

    model = mlp((64, 64), 0, 3e-4)
    callback = keras_grow.callbacks.Neurogenesis(
        growth.ActivationTrigger(gamma=0.97, epsilon=0.01),
        growth.NorthSelect(1000, 0.01),
        max_units=784,
        buffer_size=1568,
    )
    north.ScoringRows.__init__, north.ScoringRows.select = recording_prepare, recording_select
    try:
        model.fit(x, y, epochs=epochs, batch_size=512, verbose=0, callbacks=[callback])
    finally:
        north.ScoringRows.__init__, north.ScoringRows.select = prepare, select
    return calls


def replay(calls, kernel, static, batch):
    """Seconds spent in all the selections with `kernel`, and their picks."""
    original, north._matmul = north._matmul, kernel
    seconds, picks = 0.0, []
    try:
        for args, kwargs in calls:
            static.train_on_batch(*batch)
            kwargs = {**kwargs, "rng": copy.deepcopy(kwargs["rng"])}
            start = time.perf_counter()
            picks.append(tuple(north.select_candidate_columns(*args, **kwargs)))
            seconds += time.perf_counter() - start
    finally:
        north._matmul = original
    return seconds, picks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--quick", action="store_true", help="4 epochs, 3 rounds")
    args = parser.parse_args()
    (x, y), _ = keras_grow.datasets.mnist_5k(seed=0, test_size=1000, flatten=True)
    calls = record_selections(x, y, 4 if args.quick else 20)
    static = mlp((256, 256), 0, 3e-4)
    batch = (x[:512], y[:512])
    static.train_on_batch(*batch)
    seconds = {name: [] for name in KERNELS}
    picks = {}
    with threadpool_limits(1, user_api="blas"):  # as inside DynamicModel.fit
        for _ in range(3 if args.quick else args.rounds):
            for name, kernel in KERNELS.items():
                total, picks[name] = replay(calls, kernel, static, batch)
                seconds[name].append(total / max(len(calls), 1))
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    result = {
        "selections": len(calls),
        **{f"{name}_ms_per_selection": round(1e3 * value, 3) for name, value in medians.items()},
        "tf_matmul_over_keras_matmul": round(medians["tf_matmul"] / medians["keras_matmul"], 3),
        "einsum_over_tf_matmul": round(medians["einsum"] / medians["tf_matmul"], 3),
        "same_picks": all(picks[name] == picks["tf_matmul"] for name in KERNELS),
        "rounds_ms": {name: [round(1e3 * v, 2) for v in runs] for name, runs in seconds.items()},
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
