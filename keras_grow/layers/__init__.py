"""Custom Keras layers of keras_grow."""
