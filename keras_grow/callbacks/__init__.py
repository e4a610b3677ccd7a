"""Keras callbacks that drive structural change during fit."""
