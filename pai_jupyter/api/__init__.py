"""The client API: the one Python API every front end (magics, CLI, widgets, server
extension) uses: jobs, services, predictions and model sources.
"""
