"""The manufacturing pack."""
