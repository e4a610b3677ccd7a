"""The first `fit` of a DynamicModel: one trace of the train step instead of two.

Keras' TensorFlow trainer, without a distribution strategy, builds the
optimizer and the compiled metrics inside the trace of the first train step;
the variables created there make `tf.function` trace the step again. A
`DynamicModel` builds them beforehand from the data's element spec. This
benchmark times the first `fit` (one epoch) of freshly compiled models both
ways in one process, in interleaved rounds: `DynamicModel` as shipped, and a
subclass that keeps Keras' own build (`KerasBuild`), every round from the
same seed. It reports the median seconds of each, their ratio, the
train-step traces of each, and the largest weight difference between the
two sides after the same round, next to the largest between two rounds of
the same side: the data order and the numbers are unchanged when the first
is no larger than the second (0 for a model whose CPU training is bitwise
reproducible; the residual network's is not, to about 1e-5).

Models: the MNIST MLP of the NORTH* benchmarks (784-256-256-10, 512 rows of
MNIST-5k, batch 512), VGG-11 at 1/4 width and WRN-28-1 on 128 random
32x32x3 images (batch 128).

Run: `python benchmarks/bench_first_fit.py [--rounds 3] [--models mlp vgg11 wrn28]`.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_grow  # noqa: E402
from keras_grow import applications  # noqa: E402


class KerasBuild(keras_grow.DynamicModel):
    """A DynamicModel that keeps Keras' build: inside the first trace."""

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        return keras.Model._maybe_symbolic_build(self, iterator=iterator, data_batch=data_batch)


def _data(name):
    if name == "mlp":
        (x, y), _ = keras_grow.datasets.mnist_5k(seed=0, test_size=1000, flatten=True)
        return x[:512], y[:512], 512
    rng = np.random.default_rng(0)
    return rng.random((128, 32, 32, 3), dtype=np.float32), rng.integers(0, 10, 128), 128


def _base(name):
    if name == "mlp":
        return applications.GrowingMLP(input_shape=(784,), hidden=(256, 256), classes=10)
    if name == "vgg11":
        return applications.VGG11(width_multiplier=0.25, input_shape=(32, 32, 3), classes=10)
    return applications.WideResNet28(k=1, input_shape=(32, 32, 3), classes=10)


def first_fit(cls, name, data, seed):
    """Seconds of the first one-epoch `fit`, train-step traces, final weights."""
    x, y, batch_size = data
    keras.utils.set_random_seed(seed)
    model = cls(_base(name), seed=seed)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    traces, step = [], model.train_step

    def counted(batch):
        traces.append(1)
        return step(batch)

    model.train_step = counted
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    return seconds, len(traces), [np.asarray(v) for v in model.weights]


def _difference(first, second):
    return max(float(np.max(np.abs(a - b))) for a, b in zip(first, second))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=["mlp", "vgg11", "wrn28"])
    args = parser.parse_args()
    sides = {"dynamic_model": keras_grow.DynamicModel, "keras_build": KerasBuild}
    result = {"rounds": args.rounds}
    for name in args.models:
        data = _data(name)
        seconds = {side: [] for side in sides}
        traces, weights = {}, {side: [] for side in sides}
        for round_ in range(args.rounds):
            order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
            for side in order:
                spent, traces[side], final = first_fit(sides[side], name, data, seed=0)
                seconds[side].append(spent)
                weights[side].append(final)
        medians = {side: statistics.median(values) for side, values in seconds.items()}
        result[name] = {
            **{f"{side}_s": round(value, 3) for side, value in medians.items()},
            "ratio": round(medians["dynamic_model"] / medians["keras_build"], 3),
            **{f"{side}_traces": count for side, count in traces.items()},
            "max_weight_difference_between_sides": max(
                _difference(ours, theirs)
                for ours, theirs in zip(weights["dynamic_model"], weights["keras_build"])
            ),
            "max_weight_difference_between_rounds": max(
                _difference(runs[0], other) for runs in weights.values() for other in runs[1:]
            ),
        }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
