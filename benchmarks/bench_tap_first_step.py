"""What recording activations adds to the first step of a `fit`.

`Neurogenesis` records each watched layer's post-activations (and, for
NORTH-Select, the layer's inputs) inside the compiled train step. Once the
step runs, that costs little; but every `fit` traces the step and runs it a
first time, and that first step grows with the number of ops the recording
adds to the step's graph (about 0.1 s on the MNIST MLP, some 4 % of a
20-epoch Medium Static run on a 2-core CPU).

This benchmark builds the MLP of the NORTH* growing run (784-64-64-10,
Adam 3e-4) twice per round, without taps and with the taps `Neurogenesis`
installs for `NorthSelect` with `max_units=784` (1 568-row buffers, 512 rows
per step, the inputs of every row), and times the first and second step of a
one-epoch `fit` on 1 024 MNIST-5k rows at batch 512, in interleaved rounds
(each side traces its own step). It reports the medians, the median of the
per-round differences (a round's two sides ran under the same machine load),
and the op count of each side's train-step graph, which does not depend on
the machine.

Run: `python benchmarks/bench_tap_first_step.py [--rounds 8]`.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from bench_dyno import StepTimer  # noqa: E402

import keras_grow  # noqa: E402
from keras_grow import growth  # noqa: E402


def mlp(seed):
    keras.utils.set_random_seed(seed)
    base = keras_grow.applications.GrowingMLP(input_shape=(784,), hidden=(64, 64), classes=10)
    model = keras_grow.DynamicModel(base, seed=seed)
    model.compile(keras.optimizers.Adam(3e-4), "sparse_categorical_crossentropy")
    return model


def install_taps(model):
    """The taps `Neurogenesis(ActivationTrigger(), NorthSelect(1000), max_units=784,
    buffer_size=1568)` installs on this model."""
    growth.watch_layers(model, ["hidden1", "hidden2"], 1568, 512, inputs=True)


def train_step_ops(model):
    """Ops in the graph of `model.train_step` (a trace of its own, not timed)."""
    spec = (tf.TensorSpec((None, 784), tf.float32), tf.TensorSpec((None,), tf.int64))
    graph = tf.function(model.train_step).get_concrete_function(spec).graph
    return len(graph.get_operations())


def first_steps(rounds, rows=1024):
    (x, y), _ = keras_grow.datasets.mnist_5k(seed=0, test_size=1000, flatten=True)
    x, y = x[:rows], y[:rows].astype("int64")
    times = {"plain": [], "taps": []}
    ops = {}
    for round_ in range(rounds):
        for side in times:
            model = mlp(round_)
            if side == "taps":
                install_taps(model)
            clock = StepTimer()
            gc.collect()
            model.fit(x, y, epochs=1, batch_size=512, verbose=0, callbacks=[clock])
            times[side].append(clock.seconds[:2])
            if side not in ops:
                ops[side] = train_step_ops(model)
    first = {side: [t[0] for t in values] for side, values in times.items()}
    differences = [t - p for t, p in zip(first["taps"], first["plain"])]
    return {
        "first_step_s": {side: statistics.median(v) for side, v in first.items()},
        "second_step_s": {side: statistics.median(t[1] for t in v) for side, v in times.items()},
        "taps_first_step_extra_s_median_of_rounds": statistics.median(differences),
        "taps_first_step_extra_s_per_round": [round(d, 4) for d in differences],
        "train_step_ops": ops,
        "taps_ops": ops["taps"] - ops["plain"],
        "rounds": rounds,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    result = first_steps(args.rounds)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
