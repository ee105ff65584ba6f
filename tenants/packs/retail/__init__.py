"""The retail pack."""
