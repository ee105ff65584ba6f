"""The hospital pack."""
