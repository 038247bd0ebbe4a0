"""The package version, in a leaf module every other module may import
(``from vqeval import __version__`` inside the package would be an edge up to
the package's public face, which imports the scoring entry points)."""

__version__ = "0.1.0"
