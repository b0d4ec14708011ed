"""The embedded default: everything the platform needs, from Python wheels, on one machine."""
