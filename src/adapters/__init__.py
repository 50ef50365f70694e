"""Driven adapters: the stores. `memory` (one module), `file` and `postgres` (one package each,
usable as eventsourcing persistence modules), and `shared`, what the three have in common."""
