"""Test support for users and for jobledger itself.

Hypothesis strategies, the tracker contract suite, a throwaway PostgreSQL server.
"""
