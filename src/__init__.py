"""jobledger: lock-free, event-sourced status tracking for jobs made of many components."""
