"""Click options shared by the magics and the CLI."""
