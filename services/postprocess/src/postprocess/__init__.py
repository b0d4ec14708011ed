"""Post-call summary, tags, CSAT, FCR and the archive (exactly once)."""
