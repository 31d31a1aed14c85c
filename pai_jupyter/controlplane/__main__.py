"""``python -m pai_jupyter.controlplane``: how clients start the server in the background."""

from ..config import PaiConfig
from .server import serve

if __name__ == "__main__":
    serve(PaiConfig())
