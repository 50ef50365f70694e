"""The pure domain: statuses, events, rules and the status fold. No I/O."""
