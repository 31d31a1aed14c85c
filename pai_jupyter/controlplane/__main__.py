"""``python -m pai_jupyter.controlplane``: how clients start the server in the background."""

import sys

from ..config import PaiConfig
from ..errors import PaiError
from .server import serve

if __name__ == "__main__":
    try:
        serve(PaiConfig())
    except PaiError as exc:  # one line in server.log, which the starting client shows
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
