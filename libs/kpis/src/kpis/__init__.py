"""KPI read models over the daily aggregates, shared by the gateway (reads) and analytics (writes)."""
