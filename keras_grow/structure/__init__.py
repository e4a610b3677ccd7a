"""Neural operators on a Keras graph: dependency groups, add/remove units, DynamicModel."""
