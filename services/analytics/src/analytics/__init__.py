"""KPIs (FCR, CSAT, AHT, performance score), leaderboard, live counters."""
