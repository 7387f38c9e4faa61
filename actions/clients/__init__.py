"""Clients for the systems the actions call (one module per system)."""
