"""Tune: the search for the compose limits the gateway needs, and the edit that writes them."""
