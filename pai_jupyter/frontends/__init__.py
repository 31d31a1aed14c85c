"""Front ends: IPython magics, the ``jupyter pai`` CLI, text rendering and ipywidgets.
They parse, call the client API (``pai_jupyter.api``) and render; no business logic here.
"""
