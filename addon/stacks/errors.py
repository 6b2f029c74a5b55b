"""Exceptions of the Stacks client. Every failure is one of these, with a message a user can act on."""


class StacksError(Exception):
    """Base class of every error raised by addon.stacks."""


class DecodeError(StacksError, ValueError):
    """Bytes or text that are not a valid encoding (truncated, wrong prefix, bad length...)."""


class InvalidAddressError(StacksError, ValueError):
    """A Stacks address or principal that does not parse or has a bad checksum."""


class InvalidKeyError(StacksError, ValueError):
    """A private or public key that is malformed or not on the secp256k1 curve."""


class SigningError(StacksError):
    """A transaction or message could not be signed or its signature does not verify."""


class NetworkError(StacksError):
    """The node or API could not be reached, or answered in a way we cannot use."""


class ApiError(NetworkError):
    """The node answered with an HTTP error status."""

    def __init__(self, message: str, status: int, body=None):
        super().__init__(message)
        self.status = status
        self.body = body


class TransactionRejected(ApiError):
    """The node refused to accept a transaction into its mempool (bad nonce, funds, signature...)."""

    def __init__(self, message: str, status: int, body=None, reason: str = "", txid: str = ""):
        super().__init__(message, status, body)
        self.reason = reason
        self.txid = txid


class TransactionFailed(StacksError):
    """A transaction was mined but did not succeed (aborted by response or by post-condition)."""

    def __init__(self, message: str, txid: str, status: str, result=None):
        super().__init__(message)
        self.txid = txid
        self.status = status
        self.result = result


class TransactionTimeout(StacksError):
    """A transaction was not confirmed within the time we waited for it."""
