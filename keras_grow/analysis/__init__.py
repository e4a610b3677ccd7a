"""Structure analysis and plots."""
