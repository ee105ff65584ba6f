"""Tenancy actors: none yet; provisioning runs in the request, in one transaction."""
