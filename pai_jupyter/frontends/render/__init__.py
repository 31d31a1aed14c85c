"""Text views for the CLI and the magics' text mode."""
