"""Prebuilt models in the keras.applications style."""
