"""Adapters for the frameworks crossrank plugs into; each module imports its framework only when used."""
