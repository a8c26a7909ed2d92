"""emojid: an emoji pack service speaking the Pleroma/Akkoma API."""

__version__ = "0.1.0"
