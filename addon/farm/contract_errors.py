"""One Python exception per error constant of render-farm.clar, with a message that says what to do.

Spelled out so editors and type checkers see every class; tests/test_contract_safety.py checks them
against the contract's ERR_ constants (code, constant name), so the two cannot drift apart.
"""

from ..stacks.errors import StacksError


class ContractError(StacksError):
    """The render-farm contract refused a call with (err uN)."""

    code: int = -1
    constant: str = ""

    def __init__(self, message: str | None = None, txid: str = ""):
        super().__init__(message or self.__doc__)
        self.txid = txid


class AlreadyRegistered(ContractError):
    """this account is already a registered provider"""

    code = 100
    constant = "ERR_ALREADY_REGISTERED"

class NotRegistered(ContractError):
    """this account is not a registered provider: register first"""

    code = 101
    constant = "ERR_NOT_REGISTERED"

class InvalidPublicKey(ContractError):
    """the public key is not a valid compressed secp256k1 key"""

    code = 102
    constant = "ERR_INVALID_PUBLIC_KEY"

class PublicKeyMismatch(ContractError):
    """the public key does not belong to the sending account"""

    code = 103
    constant = "ERR_PUBLIC_KEY_MISMATCH"

class InvalidGpuCount(ContractError):
    """gpu-count must be between 1 and 64"""

    code = 104
    constant = "ERR_INVALID_GPU_COUNT"

class InvalidGpuMemory(ContractError):
    """gpu-memory (MiB) must be above 0"""

    code = 105
    constant = "ERR_INVALID_GPU_MEMORY"

class InvalidBenchmark(ContractError):
    """the benchmark score must be above 0"""

    code = 106
    constant = "ERR_INVALID_BENCHMARK"

class BondTooLow(ContractError):
    """the bond is below the minimum (see get-config min-bond)"""

    code = 107
    constant = "ERR_BOND_TOO_LOW"

class BondLocked(ContractError):
    """that much bond cannot be withdrawn: the minimum bond and open jobs' compensation stay locked"""

    code = 108
    constant = "ERR_BOND_LOCKED"

class HasOpenJobs(ContractError):
    """finish or release every assigned job before deregistering"""

    code = 109
    constant = "ERR_HAS_OPEN_JOBS"

class InvalidAmount(ContractError):
    """the amount must be above 0"""

    code = 110
    constant = "ERR_INVALID_AMOUNT"

class ProviderNotFound(ContractError):
    """the chosen provider is not registered"""

    code = 120
    constant = "ERR_PROVIDER_NOT_FOUND"

class ProviderUnavailable(ContractError):
    """the chosen provider is not taking jobs now"""

    code = 121
    constant = "ERR_PROVIDER_UNAVAILABLE"

class ReputationTooLow(ContractError):
    """the chosen provider's reputation is below the job's minimum: pick another or lower the minimum"""

    code = 122
    constant = "ERR_REPUTATION_TOO_LOW"

class ProviderAtCapacity(ContractError):
    """the chosen provider already renders as many jobs as it has GPUs: pick another"""

    code = 123
    constant = "ERR_PROVIDER_AT_CAPACITY"

class InsufficientBond(ContractError):
    """the chosen provider's free bond cannot cover this job's compensation: pick another or split the job"""

    code = 124
    constant = "ERR_INSUFFICIENT_BOND"

class SelfAssignment(ContractError):
    """a requester cannot assign a job to itself"""

    code = 125
    constant = "ERR_SELF_ASSIGNMENT"

class InvalidReward(ContractError):
    """the reward must be above 0"""

    code = 126
    constant = "ERR_INVALID_REWARD"

class RewardBelowPrice(ContractError):
    """the reward is below complexity x the provider's price per unit: raise it or pick a cheaper provider"""

    code = 127
    constant = "ERR_REWARD_BELOW_PRICE"

class InvalidComplexity(ContractError):
    """the complexity must be above 0"""

    code = 128
    constant = "ERR_INVALID_COMPLEXITY"

class InvalidDuration(ContractError):
    """the estimated duration must be between 1 minute and 7 days: split the frames into smaller chunks"""

    code = 129
    constant = "ERR_INVALID_DURATION"

class InvalidMinReputation(ContractError):
    """the minimum reputation is above the maximum (1000)"""

    code = 130
    constant = "ERR_INVALID_MIN_REPUTATION"

class InvalidFrameRange(ContractError):
    """the first frame must not come after the last one"""

    code = 131
    constant = "ERR_INVALID_FRAME_RANGE"

class EmptyBatch(ContractError):
    """a batch needs at least one chunk"""

    code = 132
    constant = "ERR_EMPTY_BATCH"

class InsufficientFunds(ContractError):
    """the account cannot pay this amount: fund it first"""

    code = 133
    constant = "ERR_INSUFFICIENT_FUNDS"

class JobNotFound(ContractError):
    """no job has this id"""

    code = 140
    constant = "ERR_JOB_NOT_FOUND"

class NotRequester(ContractError):
    """only the job's requester may do this"""

    code = 141
    constant = "ERR_NOT_REQUESTER"

class NotProvider(ContractError):
    """only the job's assigned provider may do this"""

    code = 142
    constant = "ERR_NOT_PROVIDER"

class NotPending(ContractError):
    """the job is not waiting to be started"""

    code = 143
    constant = "ERR_NOT_PENDING"

class NotInProgress(ContractError):
    """the job is not being rendered"""

    code = 144
    constant = "ERR_NOT_IN_PROGRESS"

class NotSubmitted(ContractError):
    """the job has no submitted result under review"""

    code = 145
    constant = "ERR_NOT_SUBMITTED"

class NotClaimable(ContractError):
    """the job's result is not approved (or silently approved)"""

    code = 146
    constant = "ERR_NOT_CLAIMABLE"

class NotCancellable(ContractError):
    """only pending, rejected or declined jobs can be cancelled"""

    code = 147
    constant = "ERR_NOT_CANCELLABLE"

class NotReassignable(ContractError):
    """only rejected, declined or no-show jobs can be reassigned"""

    code = 148
    constant = "ERR_NOT_REASSIGNABLE"

class NotExpirable(ContractError):
    """the job is in a state without a deadline"""

    code = 149
    constant = "ERR_NOT_EXPIRABLE"

class DeadlineNotReached(ContractError):
    """the job's deadline has not passed yet"""

    code = 150
    constant = "ERR_DEADLINE_NOT_REACHED"

class AcceptWindowClosed(ContractError):
    """the accept window of this job has closed"""

    code = 151
    constant = "ERR_ACCEPT_WINDOW_CLOSED"

class AcceptWindowOpen(ContractError):
    """the provider may still start this job: wait for the accept window to close"""

    code = 152
    constant = "ERR_ACCEPT_WINDOW_OPEN"

class RenderDeadlinePassed(ContractError):
    """the render deadline has passed"""

    code = 153
    constant = "ERR_RENDER_DEADLINE_PASSED"

class ReviewWindowClosed(ContractError):
    """the review window has closed: the result counts as approved"""

    code = 154
    constant = "ERR_REVIEW_WINDOW_CLOSED"

class ReviewWindowOpen(ContractError):
    """the requester is still reviewing: claim after approval or once the review window closes"""

    code = 155
    constant = "ERR_REVIEW_WINDOW_OPEN"

class RevealWindowClosed(ContractError):
    """the reveal window has closed"""

    code = 156
    constant = "ERR_REVEAL_WINDOW_CLOSED"

class SecretMismatch(ContractError):
    """the revealed secret does not match the commitment"""

    code = 157
    constant = "ERR_SECRET_MISMATCH"

class InsufficientEarnings(ContractError):
    """the withdrawal is larger than the earnings"""

    code = 170
    constant = "ERR_INSUFFICIENT_EARNINGS"

class TransferFailed(ContractError):
    """the STX transfer into the contract failed"""

    code = 171
    constant = "ERR_TRANSFER_FAILED"

class PayoutFailed(ContractError):
    """the STX payout from the contract failed"""

    code = 172
    constant = "ERR_PAYOUT_FAILED"


class UnknownContractError(ContractError):
    """the contract returned an error code this client does not know (is the client up to date?)"""


ERRORS_BY_CODE: dict[int, type[ContractError]] = {
    cls.code: cls for cls in ContractError.__subclasses__() if cls is not UnknownContractError
}


def error_for(code: int, txid: str = "") -> ContractError:
    cls = ERRORS_BY_CODE.get(code)
    if cls is None:
        error = UnknownContractError(f"the contract returned (err u{code}), unknown to this client", txid)
        error.code = code
        return error
    return cls(f"{cls.__doc__} (err u{code} {cls.constant})", txid)
