"""The package version, in one place (crossrank/__init__ and the server read it from here)."""

__version__ = "0.1.0"
