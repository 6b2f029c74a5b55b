"""One Python exception per error constant of render-farm.clar, with a message that says what to do.

tests/test_contract_wrapper.py checks this table against the contract's ERR_ constants, so the two
cannot drift apart.
"""

from addon.stacks.errors import StacksError


class ContractError(StacksError):
    """The render-farm contract refused a call with (err uN)."""

    code: int = -1
    constant: str = ""

    def __init__(self, message: str | None = None, txid: str = ""):
        super().__init__(message or self.__doc__)
        self.txid = txid


# code, constant, class name, message (the class docstring)
_TABLE = [
    (100, "ERR_ALREADY_REGISTERED", "AlreadyRegistered", "this account is already a registered provider"),
    (101, "ERR_NOT_REGISTERED", "NotRegistered", "this account is not a registered provider: register first"),
    (102, "ERR_INVALID_PUBLIC_KEY", "InvalidPublicKey", "the public key is not a valid compressed secp256k1 key"),
    (103, "ERR_PUBLIC_KEY_MISMATCH", "PublicKeyMismatch", "the public key does not belong to the sending account"),
    (104, "ERR_INVALID_GPU_COUNT", "InvalidGpuCount", "gpu-count must be between 1 and 64"),
    (105, "ERR_INVALID_GPU_MEMORY", "InvalidGpuMemory", "gpu-memory (MiB) must be above 0"),
    (106, "ERR_INVALID_BENCHMARK", "InvalidBenchmark", "the benchmark score must be above 0"),
    (107, "ERR_BOND_TOO_LOW", "BondTooLow", "the bond is below the minimum (see get-config min-bond)"),
    (108, "ERR_BOND_LOCKED", "BondLocked",
     "that much bond cannot be withdrawn: the minimum bond and open jobs' compensation stay locked"),
    (109, "ERR_HAS_OPEN_JOBS", "HasOpenJobs", "finish or release every assigned job before deregistering"),
    (110, "ERR_INVALID_AMOUNT", "InvalidAmount", "the amount must be above 0"),
    (120, "ERR_PROVIDER_NOT_FOUND", "ProviderNotFound", "the chosen provider is not registered"),
    (121, "ERR_PROVIDER_UNAVAILABLE", "ProviderUnavailable", "the chosen provider is not taking jobs now"),
    (122, "ERR_REPUTATION_TOO_LOW", "ReputationTooLow",
     "the chosen provider's reputation is below the job's minimum: pick another or lower the minimum"),
    (123, "ERR_PROVIDER_AT_CAPACITY", "ProviderAtCapacity",
     "the chosen provider already renders as many jobs as it has GPUs: pick another"),
    (124, "ERR_INSUFFICIENT_BOND", "InsufficientBond",
     "the chosen provider's free bond cannot cover this job's compensation: pick another or split the job"),
    (125, "ERR_SELF_ASSIGNMENT", "SelfAssignment", "a requester cannot assign a job to itself"),
    (126, "ERR_INVALID_REWARD", "InvalidReward", "the reward must be above 0"),
    (127, "ERR_REWARD_BELOW_PRICE", "RewardBelowPrice",
     "the reward is below complexity x the provider's price per unit: raise it or pick a cheaper provider"),
    (128, "ERR_INVALID_COMPLEXITY", "InvalidComplexity", "the complexity must be above 0"),
    (129, "ERR_INVALID_DURATION", "InvalidDuration",
     "the estimated duration must be between 1 minute and 7 days: split the frames into smaller chunks"),
    (130, "ERR_INVALID_MIN_REPUTATION", "InvalidMinReputation", "the minimum reputation is above the maximum (1000)"),
    (131, "ERR_INVALID_FRAME_RANGE", "InvalidFrameRange", "the first frame must not come after the last one"),
    (132, "ERR_EMPTY_BATCH", "EmptyBatch", "a batch needs at least one chunk"),
    (133, "ERR_INSUFFICIENT_FUNDS", "InsufficientFunds", "the account cannot pay this amount: fund it first"),
    (140, "ERR_JOB_NOT_FOUND", "JobNotFound", "no job has this id"),
    (141, "ERR_NOT_REQUESTER", "NotRequester", "only the job's requester may do this"),
    (142, "ERR_NOT_PROVIDER", "NotProvider", "only the job's assigned provider may do this"),
    (143, "ERR_NOT_PENDING", "NotPending", "the job is not waiting to be started"),
    (144, "ERR_NOT_IN_PROGRESS", "NotInProgress", "the job is not being rendered"),
    (145, "ERR_NOT_SUBMITTED", "NotSubmitted", "the job has no submitted result under review"),
    (146, "ERR_NOT_CLAIMABLE", "NotClaimable", "the job's result is not approved (or silently approved)"),
    (147, "ERR_NOT_CANCELLABLE", "NotCancellable", "only pending, rejected or declined jobs can be cancelled"),
    (148, "ERR_NOT_REASSIGNABLE", "NotReassignable", "only rejected, declined or no-show jobs can be reassigned"),
    (149, "ERR_NOT_EXPIRABLE", "NotExpirable", "the job is in a state without a deadline"),
    (150, "ERR_DEADLINE_NOT_REACHED", "DeadlineNotReached", "the job's deadline has not passed yet"),
    (151, "ERR_ACCEPT_WINDOW_CLOSED", "AcceptWindowClosed", "the accept window of this job has closed"),
    (152, "ERR_ACCEPT_WINDOW_OPEN", "AcceptWindowOpen",
     "the provider may still start this job: wait for the accept window to close"),
    (153, "ERR_RENDER_DEADLINE_PASSED", "RenderDeadlinePassed", "the render deadline has passed"),
    (154, "ERR_REVIEW_WINDOW_CLOSED", "ReviewWindowClosed",
     "the review window has closed: the result counts as approved"),
    (155, "ERR_REVIEW_WINDOW_OPEN", "ReviewWindowOpen",
     "the requester is still reviewing: claim after approval or once the review window closes"),
    (156, "ERR_REVEAL_WINDOW_CLOSED", "RevealWindowClosed", "the reveal window has closed"),
    (157, "ERR_SECRET_MISMATCH", "SecretMismatch", "the revealed secret does not match the commitment"),
    (170, "ERR_INSUFFICIENT_EARNINGS", "InsufficientEarnings", "the withdrawal is larger than the earnings"),
    (171, "ERR_TRANSFER_FAILED", "TransferFailed", "the STX transfer into the contract failed"),
    (172, "ERR_PAYOUT_FAILED", "PayoutFailed", "the STX payout from the contract failed"),
]

ERRORS_BY_CODE: dict[int, type[ContractError]] = {}
for _code, _constant, _name, _message in _TABLE:
    _cls = type(_name, (ContractError,), {"__doc__": _message, "code": _code, "constant": _constant,
                                           "__module__": __name__})
    globals()[_name] = _cls
    ERRORS_BY_CODE[_code] = _cls
__all__ = ["ContractError", "ERRORS_BY_CODE", "error_for", *[row[2] for row in _TABLE]]


class UnknownContractError(ContractError):
    """the contract returned an error code this client does not know (is the client up to date?)"""


def error_for(code: int, txid: str = "") -> ContractError:
    cls = ERRORS_BY_CODE.get(code)
    if cls is None:
        error = UnknownContractError(f"the contract returned (err u{code}), unknown to this client", txid)
        error.code = code
        return error
    return cls(f"{cls.__doc__} (err u{code} {cls.constant})", txid)
