"""`canopy`: the command line for any Canopy server, over HTTP only (no server code)."""
