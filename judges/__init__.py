"""Judge definitions shipped with jp-bench (one YAML file per judge)."""
