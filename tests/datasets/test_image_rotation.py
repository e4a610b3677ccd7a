"""Tests for keras_grow.datasets.transforms.rotated."""

import numpy as np
import pytest
import scipy.ndimage

from keras_grow.datasets import rotated


@pytest.fixture
def images():
    return np.random.default_rng(0).random((6, 9, 9, 2)).astype(np.float32)


def test_angle_zero_is_identity_and_labels_pass_through(images):
    labels = np.arange(6)
    x_rot, y_rot = rotated(images, labels, angles=0)
    np.testing.assert_array_equal(x_rot, images)
    np.testing.assert_array_equal(y_rot, labels)


@pytest.mark.parametrize(("angle", "turns"), [(90, 1), (180, 2), (270, 3), (-90, 3), (450, 1)])
def test_quarter_turns_equal_rot90(images, angle, turns):
    x_rot, _ = rotated(images, np.zeros(6), angles=angle)
    np.testing.assert_allclose(x_rot, np.rot90(images, turns, axes=(1, 2)), atol=1e-6)


def test_matches_scipy_bilinear_zero_fill_for_arbitrary_angles():
    x = np.random.default_rng(1).random((3, 12, 7, 1))
    angles = np.array([33.0, 200.0, 271.5])
    x_rot, _ = rotated(x, [0, 1, 2], angles=angles)
    for image, result, angle in zip(x, x_rot, angles, strict=True):
        expected = scipy.ndimage.rotate(
            image[..., 0], angle, reshape=False, order=1, mode="grid-constant", cval=0.0
        )
        np.testing.assert_allclose(result[..., 0], expected, atol=1e-9)


def test_random_angles_are_uniform_and_deterministic_per_seed(images):
    labels = np.arange(6)
    x_a, _, angles_a = rotated(images, labels, seed=3, return_angles=True)
    x_b, _, angles_b = rotated(images, labels, seed=3, return_angles=True)
    x_c, _ = rotated(images, labels, seed=4)
    np.testing.assert_array_equal(x_a, x_b)
    np.testing.assert_array_equal(angles_a, angles_b)
    assert not np.allclose(x_a, x_c)
    _, _, many = rotated(np.zeros((4000, 3, 3, 1)), np.zeros(4000), return_angles=True)
    assert many.min() >= 0.0 and many.max() < 360.0
    assert np.all(np.abs(np.histogram(many, bins=4, range=(0, 360))[0] - 1000) < 100)


def test_shape_dtype_and_zero_fill():
    x = np.full((2, 10, 10, 3), 200, dtype=np.uint8)
    x_rot, _ = rotated(x, [0, 1], angles=[45.0, 90.0])
    assert x_rot.shape == x.shape and x_rot.dtype == np.float32
    # At 45 degrees the corners read from beyond the input's corners: zeros.
    assert np.all(x_rot[0, [0, 0, -1, -1], [0, -1, 0, -1]] == 0.0)
    assert x_rot.max() <= 200.0 + 1e-4 and x_rot[0, 4:6, 4:6] == pytest.approx(200.0)
    x_wide, _ = rotated(np.ones((1, 4, 8, 1)), [0], angles=90)
    assert x_wide.shape == (1, 4, 8, 1) and x_wide[0, :, 0].max() == 0.0  # cut off, zero-filled
    x64, _ = rotated(x.astype(np.float64), [0, 1], angles=10)
    assert x64.dtype == np.float64


def test_large_batches_are_processed_in_chunks():
    x = np.random.default_rng(2).random((2100, 4, 4, 1)).astype(np.float32)
    x_rot, _ = rotated(x, np.zeros(2100), angles=90)
    np.testing.assert_allclose(x_rot, np.rot90(x, 1, axes=(1, 2)), atol=1e-6)


@pytest.mark.parametrize(
    ("x", "y", "kwargs", "error", "pattern"),
    [
        (np.zeros((4, 8, 8)), np.zeros(4), {}, ValueError, r"x has shape \(4, 8, 8\) \(rank 3\)"),
        (np.zeros((4, 8)), np.zeros(4), {}, ValueError, r"expected rank 4"),
        (np.zeros((4, 8, 8, 1)), np.zeros(3), {}, ValueError, r"len\(x\)=4 and len\(y\)=3"),
        (np.zeros((4, 8, 8, 1)), np.zeros(4), {"angles": [1, 2]}, ValueError, r"angles has"),
        (np.zeros((4, 8, 8, 1)), np.zeros(4), {"seed": -1}, ValueError, r"seed=-1"),
        (np.zeros((1, 2, 2, 1), dtype=bool), [0], {}, TypeError, r"x has dtype bool"),
    ],
)
def test_bad_arguments(x, y, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        rotated(x, y, **kwargs)


def test_labels_may_be_omitted(images):
    x_rot, y_rot = rotated(images, None, angles=90)
    assert y_rot is None and x_rot.shape == images.shape
