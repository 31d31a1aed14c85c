"""Code that runs inside one serving instance (locally, or in an EAS container):
the processors, the instance's HTTP server (``server`` + ``httpserver``), server-side
batching (``batching``), the EAS container entry (``eas_container``) and the signature reader.
"""
