"""The typed errors of the farm's flows (requester and provider).

Lower layers raise their own exceptions (addon.stacks' StacksError and the contract's ContractError,
the relay client's RelayRefused / RelayUnavailable, crypto's DecryptionError); a flow translates each
into one of these, keeping the original as `__cause__`, so a panel, a CLI or the provider agent
handles five kinds of failure and shows `str(error)`, which always says what to do next.
"""

from __future__ import annotations


class FarmError(Exception):
    """Base of every error a flow raises."""


class IntegrityError(FarmError):
    """Data does not match what was committed: a file, frame or document differs from its hash, or
    fails to decrypt. Never retried: the data must be fetched again or the job rejected."""


class ManifestError(IntegrityError):
    """A scene or result manifest is malformed: unknown version, missing field, wrong type."""


class AuthorizationError(FarmError):
    """This account is not the party the job names (wrong key, wrong job, not its requester/provider)."""


class ChainError(FarmError):
    """The chain could not be read or refused a transaction (node down, contract error, timeout)."""


class RelayError(FarmError):
    """The relay could not be reached or refused a request."""


class RenderError(FarmError):
    """Blender could not render a frame (bad scene, time or memory cap, crash)."""


class JobStateError(FarmError):
    """The job is not in the state this step needs (e.g. no result submitted yet, r not revealed yet)."""
