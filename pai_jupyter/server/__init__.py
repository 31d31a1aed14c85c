"""The Jupyter server extension: REST (``/pai/api/...``) and a push websocket for the sidebar.

Handlers only translate HTTP to calls of the client API (``pai_jupyter.client``
and ``pai_jupyter.service_client``) and records to JSON; they hold no business
logic. See ``extension.py`` for the URL table.
"""
