"""Turnout: makes candidates show up to their AI interviews, and handles the ones who don't."""

__version__ = "0.1.0"
