"""Tenant-side code: industry packs. Imports turnout, never the reverse."""
