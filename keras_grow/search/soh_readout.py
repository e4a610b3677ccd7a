"""Logistic-regression readout trained on a hierarchy's concatenated codes."""

import numbers

import keras
import numpy as np
import tensorflow as tf


@keras.saving.register_keras_serializable(package="keras_grow")
class LogisticReadout(keras.Model):
    """Multinomial logistic regression on standardised features.

    The extrinsic metric of a self-organising hierarchy: a softmax layer on
    the concatenated unit codes (`K * hidden` features). Features are
    standardised with statistics from the first `fit` call. `fit` defaults to
    this readout's own `epochs` and `batch_size`, shuffles with a seeded
    generator (so results repeat for a given `seed`), and is silent unless
    asked; `score` returns the accuracy.

    Args:
        num_classes: number of classes, int >= 2.
        epochs: default training epochs of `fit`.
        batch_size: default batch size of `fit`.
        learning_rate: Adam learning rate.
        l2: L2 factor on the softmax weights.
        seed: int seed of the weight initialisation and shuffling, or `None`.
        **kwargs: base `keras.Model` arguments.

    Call arguments:
        inputs: features `(batch, features)`.

    Output shape:
        Class probabilities `(batch, num_classes)`.

    Example:

    >>> x = np.random.default_rng(0).normal(size=(64, 5)).astype("float32")
    >>> y = (x[:, 0] > 0).astype("int64")
    >>> clf = LogisticReadout(num_classes=2, epochs=50, learning_rate=0.05, seed=0)
    >>> _ = clf.fit(x, y)
    >>> clf.score(x, y) > 0.9
    True
    """

    def __init__(
        self,
        num_classes=10,
        epochs=40,
        batch_size=128,
        learning_rate=3e-3,
        l2=1e-4,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(num_classes, numbers.Integral) or num_classes < 2:
            raise ValueError(f"num_classes={num_classes!r} must be an integer >= 2.")
        if not isinstance(epochs, numbers.Integral) or epochs < 1:
            raise ValueError(f"epochs={epochs!r} must be an integer >= 1.")
        self.num_classes = int(num_classes)
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.learning_rate = float(learning_rate)
        self.l2 = float(l2)
        self.seed = seed
        self.normalizer = keras.layers.Normalization(name="standardize")
        self.dense = keras.layers.Dense(
            self.num_classes,
            activation="softmax",
            kernel_regularizer=keras.regularizers.L2(self.l2) if self.l2 else None,
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
            name="softmax",
        )
        self._rng = np.random.default_rng(seed)

    def call(self, inputs):
        return self.dense(self.normalizer(inputs))

    def fit(self, x=None, y=None, epochs=None, batch_size=None, verbose=0, **kwargs):
        x = np.asarray(x, dtype="float32")
        y = np.asarray(y)
        if not self.normalizer.built or not self.compiled:
            self.normalizer.adapt(x)
            self.compile(
                optimizer=keras.optimizers.Adam(self.learning_rate),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
                steps_per_execution=32,
            )
        shuffle_seed = int(self._rng.integers(0, 2**31 - 1))
        data = (
            tf.data.Dataset.from_tensor_slices((x, y))
            .shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
            .batch(batch_size or self.batch_size)
        )
        epochs = self.epochs if epochs is None else epochs
        return super().fit(data, epochs=epochs, verbose=verbose, shuffle=False, **kwargs)

    def score(self, x, y):
        """Accuracy of the predicted classes on `(x, y)`, a float in [0, 1]."""
        probabilities = self.predict(np.asarray(x, dtype="float32"), verbose=0, batch_size=1024)
        return float(np.mean(np.argmax(probabilities, axis=1) == np.asarray(y).reshape(-1)))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "epochs": self.epochs,
                "batch_size": self.batch_size,
                "learning_rate": self.learning_rate,
                "l2": self.l2,
                "seed": self.seed,
            }
        )
        return config
