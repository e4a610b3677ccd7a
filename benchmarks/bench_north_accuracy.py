"""Does NORTH-Select reach Medium Static's accuracy with fewer parameters?

The issue's (and Maile's thesis, ch. 6, Table 8) MNIST MLP: 784-64-64-10
growing with NORTH-Select (`ActivationTrigger(metric="effective_dimension",
gamma, epsilon=0.01)`, `NorthSelect(candidates=1000)`, `max_units=784`,
`buffer_size=1568`, `every=1`), Adam, batch 512, 20 epochs, against Medium
Static (784-256-256-10) trained the same way, on MNIST-5k (4 000 training and
1 000 test images), over seeds 1-5 (the thesis' protocol). Per variant: test
accuracy (mean ± std), parameters, final widths, and in how many seeds the
first hidden layer ended wider than the second (the thesis' pattern).

The thesis trains on full MNIST (60 000 images: 2 344 steps at batch 512);
MNIST-5k gives 160 steps at batch 512, so `--batch 128` (625 steps) is also
worth a look, and `--batch 128 --epochs 60` (1 875 steps) comes near the
thesis' step count (BENCHMARKS.md: there NORTH-Select passes Medium Static's
accuracy, but its first layer grows to the maximum width).
`--max-units` caps each hidden layer (thesis: 784, the input width;
256 caps it at Medium Static's width). `--optimizer-state` chooses how new
units' Adam second moments start (`fresh`: zero, `mean`: the existing units'
mean), `--min-new-rows` how often a layer is evaluated (default: a fully new buffer per decision;
1: at every step, as in the thesis).

Run: `python benchmarks/bench_north_accuracy.py [--gamma 0.97] [--batch 512]
[--lr 3e-4] [--optimizer-state fresh] [--seeds 1 2 3 4 5] [--epochs 20]`.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # see bench_neurogenesis.py
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_grow  # noqa: E402
from keras_grow import growth  # noqa: E402


def parameters(widths):
    h1, h2 = widths["hidden1"], widths["hidden2"]
    return 784 * h1 + h1 + h1 * h2 + h2 + h2 * 10 + 10


def run(args, data, seed, hidden, grow):
    (x, y), (x_test, y_test) = data
    keras.utils.set_random_seed(seed)
    base = keras_grow.applications.GrowingMLP(input_shape=(784,), hidden=hidden, classes=10)
    model = keras_grow.DynamicModel(base, seed=seed)
    model.compile(
        keras.optimizers.Adam(args.lr), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    callbacks = []
    if grow:
        callbacks.append(
            keras_grow.callbacks.Neurogenesis(
                trigger=growth.ActivationTrigger(
                    metric="effective_dimension", gamma=args.gamma, epsilon=0.01
                ),
                initializer=growth.NorthSelect(candidates=args.candidates),
                max_units=args.max_units,
                buffer_size=1568,
                every=1,
                rows_per_step=min(args.batch, 512),
                min_new_rows=args.min_new_rows,
                optimizer_state=args.optimizer_state,
                seed=seed,
            )
        )
    start = time.perf_counter()
    model.fit(x, y, epochs=args.epochs, batch_size=args.batch, verbose=0, callbacks=callbacks)
    seconds = time.perf_counter() - start
    accuracy = float(model.evaluate(x_test, y_test, verbose=0, batch_size=1000)[1])
    widths = model.widths()
    return {
        "seed": seed,
        "accuracy": accuracy,
        "hidden1": widths["hidden1"],
        "hidden2": widths["hidden2"],
        "parameters": parameters(widths),
        "seconds": seconds,
    }


def summarise(rows):
    def stat(key):
        values = [r[key] for r in rows]
        return [float(np.mean(values)), float(np.std(values))]

    return {
        "seeds": len(rows),
        "accuracy": stat("accuracy"),
        "parameters": stat("parameters"),
        "hidden1": stat("hidden1"),
        "hidden2": stat("hidden2"),
        "first_wider": sum(r["hidden1"] > r["hidden2"] for r in rows),
        "seconds": stat("seconds"),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gamma", type=float, default=0.97)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument(
        "--max-units", type=int, default=784, help="widest a hidden layer may grow (thesis: 784)"
    )
    parser.add_argument("--optimizer-state", choices=["fresh", "mean"], default="fresh")
    parser.add_argument("--min-new-rows", type=int, default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--no-static", action="store_true", help="skip Medium Static")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    data = keras_grow.datasets.mnist_5k(seed=0, test_size=1000, flatten=True)
    runs = {"medium_static": [], "north_select": []}
    for seed in args.seeds:  # interleaved, so that machine load hits both alike
        if not args.no_static:
            runs["medium_static"].append(run(args, data, seed, (256, 256), grow=False))
            print("medium_static", json.dumps(runs["medium_static"][-1]), flush=True)
        runs["north_select"].append(run(args, data, seed, (64, 64), grow=True))
        print("north_select ", json.dumps(runs["north_select"][-1]), flush=True)
    result = {
        "settings": vars(args),
        **{name: summarise(rows) for name, rows in runs.items() if rows},
        "runs": runs,
    }
    if runs["medium_static"]:
        gap = result["north_select"]["accuracy"][0] - result["medium_static"]["accuracy"][0]
        result["accuracy_gap_points"] = 100 * gap
        result["parameter_ratio"] = (
            result["north_select"]["parameters"][0] / result["medium_static"]["parameters"][0]
        )
    summary = {key: value for key, value in result.items() if key != "runs"}
    print(json.dumps(summary, indent=1), flush=True)
    if args.out:
        with open(args.out, "w") as file:
            json.dump(result, file, indent=1)
    return result


if __name__ == "__main__":
    main()
