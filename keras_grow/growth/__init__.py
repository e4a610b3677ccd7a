"""When, where and how to change structure: metrics, triggers, initialisers, prune selection."""
