"""Driving adapters: the command line and the demo (the web app and queue integrations go
beside them). They use the Tracker, never a store."""
