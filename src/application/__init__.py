"""Use cases: the Tracker service and the ports it needs."""
