"""atexpert: live "Ask the Expert" sessions on X."""

__version__ = "0.1.0"
