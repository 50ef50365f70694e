"""Test support for users and for jobledger itself: Hypothesis strategies, the store contract suite, a throwaway PostgreSQL server."""
