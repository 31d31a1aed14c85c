"""Live ipywidgets views of jobs and services."""
