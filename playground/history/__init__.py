"""The history store: the only place that speaks SQL."""
