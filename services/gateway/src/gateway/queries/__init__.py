"""The gateway's SQL, one module per resource, so routes say what they do and not how rows are read."""
