"""Data shipped with jp-bench (the original question set)."""
