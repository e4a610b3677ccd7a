"""Tests for keras_grow.datasets._cache."""

import numpy as np

from keras_grow.datasets._cache import cache_dir, load_or_build


def test_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_GROW_CACHE", str(tmp_path / "here"))
    assert cache_dir() == tmp_path / "here"
    monkeypatch.delenv("KERAS_GROW_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "keras_grow"


def test_load_or_build_builds_once_then_reads_file(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_GROW_CACHE", str(tmp_path))
    calls = []

    def build():
        calls.append(1)
        return {"a": np.arange(3)}

    first = load_or_build("thing.npz", build)
    second = load_or_build("thing.npz", build)
    assert calls == [1] and (tmp_path / "thing.npz").is_file()
    np.testing.assert_array_equal(first["a"], second["a"])
    assert list(tmp_path.iterdir()) == [tmp_path / "thing.npz"]  # no temporary left over


def test_load_or_build_rebuilds_corrupt_file_and_skips_when_disabled(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_GROW_CACHE", str(tmp_path))
    (tmp_path / "bad.npz").write_bytes(b"not a zip file")
    arrays = load_or_build("bad.npz", lambda: {"a": np.ones(2)})
    np.testing.assert_array_equal(arrays["a"], np.ones(2))
    load_or_build("off.npz", lambda: {"a": np.ones(2)}, use_cache=False)
    assert not (tmp_path / "off.npz").exists()


def test_unwritable_cache_is_skipped(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    monkeypatch.setenv("KERAS_GROW_CACHE", str(blocker / "sub"))
    arrays = load_or_build("x.npz", lambda: {"a": np.zeros(1)})
    assert arrays["a"].shape == (1,)
