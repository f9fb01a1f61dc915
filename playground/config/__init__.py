"""Profiles, prices and the model catalog: what the router may choose from."""
