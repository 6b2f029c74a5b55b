"""Translate the lower layers' exceptions into the flows' typed errors (addon.farm.errors).

Used as `with translated("what the step does"):` around each step of a flow, so every failure reaches
the caller as one of FarmError's five kinds with the original kept as `__cause__`.
"""

from __future__ import annotations

from contextlib import contextmanager

from ..stacks.errors import StacksError
from . import contract_errors
from .crypto import DecryptionError
from .errors import AuthorizationError, ChainError, FarmError, IntegrityError, RelayError
from .relay_blobs import CorruptDownload
from .relay_errors import NotAuthorized, RelayRefused, RelayUnavailable

_WRONG_PARTY = (contract_errors.NotRequester, contract_errors.NotProvider, contract_errors.SelfAssignment)


@contextmanager
def translated(doing: str):
    try:
        yield
    except FarmError:
        raise
    except RelayUnavailable as exc:
        raise RelayError(f"{doing}: {exc}") from exc
    except NotAuthorized as exc:
        raise AuthorizationError(f"{doing}: {exc.message}") from exc
    except RelayRefused as exc:
        raise RelayError(f"{doing}: {exc}") from exc
    except CorruptDownload as exc:
        raise IntegrityError(f"{doing}: {exc}; nothing was kept, fetch it again") from exc
    except _WRONG_PARTY as exc:
        raise AuthorizationError(f"{doing}: {exc}") from exc
    except StacksError as exc:
        raise ChainError(f"{doing}: {exc}") from exc
    except DecryptionError as exc:
        raise IntegrityError(f"{doing}: the data does not decrypt ({exc}): it was altered or sealed for "
                             "another key") from exc
