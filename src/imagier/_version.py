"""The version of imagier, apart from the package's __init__ so that any module may read it without
importing everything above it."""

__version__ = "0.1.0"
