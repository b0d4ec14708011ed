"""Scores customer sentiment and estimates satisfaction on live calls."""
