"""ZhiJian's reuse core: load a pre-trained model, reuse it by any method, compare, export.

Importing this package has no side effects and imports no torch; the heavy parts are imported
where they are used.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
