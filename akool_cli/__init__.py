"""akool-cli: Akool Image-to-Video from the command line."""

__version__ = "0.1.0"
