"""Reports: judgment sources, summaries with confidence intervals, leaderboards."""
