"""The farm's server-side programs: the relay, the provider agent and the local chain (`python -m server`)."""
