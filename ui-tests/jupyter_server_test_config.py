"""JupyterLab for the UI tests: galata's test settings, the pai_jupyter server extension, a temp root dir.

PAI_JUPYTER_HOME (set by playwright.config.js) isolates the local backend's
state and control plane from the user's.
"""

import getpass
import os
from tempfile import mkdtemp

from jupyterlab.galata import configure_jupyter_server

c = get_config()  # type: ignore[name-defined]  # noqa: F821 - provided by Jupyter's config loader

configure_jupyter_server(c)
c.ServerApp.root_dir = mkdtemp(prefix="pai-ui-tests-")
c.ServerApp.jpserver_extensions = {"pai_jupyter": True}
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
if os.getuid() == 0 or getpass.getuser() == "root":
    c.ServerApp.allow_root = True
