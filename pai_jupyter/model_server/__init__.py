"""Code that runs inside one serving instance (locally, or in an EAS container):
the processors, the instance's HTTP server and the signature reader.
"""
