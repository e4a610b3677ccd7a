"""Generated classification data from the structure-learning papers."""

import numbers

import numpy as np

from keras_grow.datasets._dtypes import FEATURE_DTYPE, LABEL_DTYPE
from keras_grow.datasets._validation import (
    check_int,
    check_real,
    check_seed,
    resolve_test_count,
)


def concentric_spheres(
    dim=10, n_train=4000, n_test=1000, radii=(1.0, 1.3), shell_width=0.0, seed=0
):
    """Generates points on concentric spheres, one class per sphere.

    This is the toy task of Golkar's Unstructured Recursive Network paper
    (section 2): tell apart inputs drawn uniformly from two concentric 10-d
    spherical shells. The paper uses `dim=10` and 4,000 training samples but
    gives neither the radii nor a test size; the defaults here (radii 1.0 and
    1.3, 1,000 test points) are this library's choice.

    Class `k` lies on the sphere of radius `radii[k]` centred at the origin:
    directions are uniform on the sphere (normalised Gaussian vectors). With
    `shell_width > 0`, the radius is instead drawn so that the points are
    uniform in the volume of the shell `radii[k] +- shell_width / 2`. Giving
    more than two radii makes a task with one class per radius. Classes are
    balanced within each split (counts differ by at most one) and shuffled. Training and test
    points come from one seeded stream, training points first.

    Reference:
    - [Golkar, 2021](https://arxiv.org/abs/2111.02745), "Emergent Structures
      and Lifetime Structure Evolution in Artificial Neural Networks".

    Args:
        dim: dimension of the input space, an integer >= 1.
        n_train: number of training points, an integer >= 1.
        n_test: number of test points, an integer >= 1.
        radii: increasing positive radii, at least two, one per class.
        shell_width: thickness of each shell; 0 puts the points exactly on
            the spheres. Shells may not overlap.
        seed: integer >= 0 that fixes the points.

    Returns:
        Tuple of NumPy arrays: `(x_train, y_train), (x_test, y_test)`.

        **`x_train`, `x_test`**: `float32` points of shape `(n, dim)`.

        **`y_train`, `y_test`**: `int64` class labels `k` (the index into
        `radii`), shape `(n,)`.

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = keras_grow.datasets.concentric_spheres()
    radius = np.linalg.norm(x_train, axis=1)  # 1.0 where y_train == 0, 1.3 where 1
    ```
    """
    dim = check_int("dim", dim, minimum=1)
    n_train = check_int("n_train", n_train, minimum=1)
    n_test = check_int("n_test", n_test, minimum=1)
    radii = _check_radii(radii)
    shell_width = check_real("shell_width", shell_width, low=0.0)
    seed = check_seed(seed)
    half = shell_width / 2.0
    if half >= radii[0] or np.any(radii[:-1] + half >= radii[1:] - half):
        raise ValueError(
            f"shell_width={shell_width!r} is too large for radii={tuple(radii.tolist())}; "
            f"expected shells that neither overlap nor reach the origin."
        )

    rng = np.random.default_rng(seed)
    total = n_train + n_test
    n_classes = len(radii)
    labels = np.concatenate(
        [rng.permutation(np.arange(n) % n_classes) for n in (n_train, n_test)]
    ).astype(LABEL_DTYPE)
    directions = rng.standard_normal((total, dim))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    inner = radii[labels] - half
    outer = radii[labels] + half
    # Volume-uniform radius in [inner, outer]: r^dim is uniform between the bounds.
    fill = rng.random(total)
    radius = (inner**dim + fill * (outer**dim - inner**dim)) ** (1.0 / dim)
    points = (directions * radius[:, None]).astype(FEATURE_DTYPE)
    return (points[:n_train], labels[:n_train]), (points[n_train:], labels[n_train:])


def independent_features(
    n_features=64, n_independent=32, n_samples=5000, noise=0.1, test_size=0.1, seed=0
):
    """Generates binary data whose features span only `n_independent` dimensions.

    This is the generated data of Maile's thesis (section 6.3.2), built to
    show how neurogenesis responds to the effective dimensionality of the
    input. For `n_independent` = n_f:

    1. draw `n_samples` samples of n_f independent standard-normal features;
    2. fill the remaining `n_features - n_f` columns with random linear
       combinations of them (weights drawn from N(0, 1/n_f), so every column
       has roughly unit variance), so the matrix has rank n_f;
    3. label each sample by summing all its features, adding Gaussian noise
       whose standard deviation is `noise` (10%) times that of the sums, and
       thresholding at the mean of the noisy sums (class 1 above the mean);
    4. hold out `test_size` (10%) of the samples, the last ones, for testing.

    The independent features are the first `n_independent` columns. The
    thesis fixes 64 features, 5,000 samples, 10% noise and a 10% test split;
    it names no single default for n_f (it reports 32 among its settings),
    and it does not say how the noise is scaled or how the combination
    weights are drawn: those choices are this library's.

    Reference:
    - Maile, 2023, "Dynamic Architectural Optimization of Artificial Neural
      Networks", PhD thesis, Université de Toulouse, section 6.3.2.

    Args:
        n_features: total number of input features, an integer >= 1.
        n_independent: number of linearly independent features, from 1 to
            `n_features`.
        n_samples: number of samples in both splits, an integer >= 2.
        noise: standard deviation of the label noise relative to that of the
            feature sums, a number >= 0.
        test_size: fraction in (0, 1) (rounded up) or count of held-out
            samples.
        seed: integer >= 0 that fixes the data.

    Returns:
        Tuple of NumPy arrays: `(x_train, y_train), (x_test, y_test)`.

        **`x_train`, `x_test`**: `float32` arrays of shape `(n, n_features)`.

        **`y_train`, `y_test`**: `int64` binary labels in {0, 1}, shape `(n,)`.

    Example:

    ```python
    (x_train, y_train), _ = keras_grow.datasets.independent_features(n_independent=8)
    assert np.linalg.matrix_rank(x_train) == 8  # float32 tolerance
    ```
    """
    n_features = check_int("n_features", n_features, minimum=1)
    n_independent = check_int("n_independent", n_independent, minimum=1)
    if n_independent > n_features:
        raise ValueError(
            f"n_independent={n_independent!r} is invalid; expected an integer from 1 to "
            f"n_features={n_features}."
        )
    n_samples = check_int("n_samples", n_samples, minimum=2)
    noise = check_real("noise", noise, low=0.0)
    test_count = resolve_test_count(test_size, n_samples)
    seed = check_seed(seed)

    rng = np.random.default_rng(seed)
    independent = rng.standard_normal((n_samples, n_independent))
    weights = rng.normal(
        0.0, 1.0 / np.sqrt(n_independent), (n_independent, n_features - n_independent)
    )
    features = np.concatenate([independent, independent @ weights], axis=1)
    sums = features.sum(axis=1)
    noisy = sums + noise * sums.std() * rng.standard_normal(n_samples)
    labels = (noisy > noisy.mean()).astype(LABEL_DTYPE)
    features = features.astype(FEATURE_DTYPE)
    split = n_samples - test_count
    return (features[:split], labels[:split]), (features[split:], labels[split:])


def _check_radii(radii):
    if isinstance(radii, (str, bytes)) or not hasattr(radii, "__len__"):
        raise TypeError(
            f"radii={radii!r} has type {type(radii).__name__}; expected a sequence of numbers."
        )
    if len(radii) < 2 or not all(
        isinstance(r, numbers.Real) and not isinstance(r, bool) for r in radii
    ):
        raise ValueError(
            f"radii={radii!r} is invalid; expected at least two positive, strictly "
            f"increasing numbers."
        )
    values = np.asarray(radii, dtype=np.float64)
    if not (np.all(np.isfinite(values)) and values[0] > 0 and np.all(np.diff(values) > 0)):
        raise ValueError(
            f"radii={radii!r} is invalid; expected at least two positive, strictly "
            f"increasing numbers."
        )
    return values
