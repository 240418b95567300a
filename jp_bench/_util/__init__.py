"""Small private helpers shared across jp-bench: atomic writes, names, text tables, strict YAML, spreadsheets."""
