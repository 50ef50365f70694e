"""The jobledger exception tree.

    JobledgerError
    ├── JobNotFound            (also LookupError)
    ├── JobAlreadyExists
    ├── UnknownComponent       (also LookupError)
    ├── InvalidTransition
    ├── InvalidInput           (also ValueError)
    │   ├── InvalidJobDefinition
    │   └── InvalidReport
    ├── StoreError
    └── ConfigurationError     (also ValueError)

Every message names the offending value. A command that raises records nothing.
"""

from __future__ import annotations


class JobledgerError(Exception):
    """Root of every error jobledger raises on purpose."""


class JobNotFound(JobledgerError, LookupError):
    """No job with the given id exists in the store."""


class JobAlreadyExists(JobledgerError):
    """A job with this id exists with a different definition."""


class UnknownComponent(JobledgerError, LookupError):
    """The job has no component of that name."""


class InvalidTransition(JobledgerError):
    """The report or command is not allowed in the current state."""


class InvalidInput(JobledgerError, ValueError):
    """An argument is malformed or out of range."""


class InvalidJobDefinition(InvalidInput):
    """Components, names, metadata or policy of a job are not acceptable."""


class InvalidReport(InvalidInput):
    """A status report carries an unknown status, a bad message or a bad progress."""


class StoreError(JobledgerError):
    """The store failed, is damaged, or cannot be reached."""


class ConfigurationError(JobledgerError, ValueError):
    """A store URL or setting is malformed or unsupported."""
