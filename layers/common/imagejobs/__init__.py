"""imagejobs: the shared domain package, shipped to every function in the common layer."""

__version__ = "0.1.0"
