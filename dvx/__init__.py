"""dvx: version large data and model files together with code in Git."""

__version__ = "0.1.0"
__all__ = ["__version__"]
