"""Matches dialled numbers to agents, queues calls, creates LiveKit rooms."""
