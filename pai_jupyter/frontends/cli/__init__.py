"""The ``jupyter pai`` command line (``main.py`` is the entry point)."""
