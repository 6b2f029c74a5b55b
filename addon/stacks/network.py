"""Network profiles: address versions, chain ids and default API base URLs."""

from dataclasses import dataclass

from .errors import StacksError

# Address version bytes (SIP-005): single-sig P2PKH and multi-sig P2SH per network.
MAINNET_SINGLE_SIG = 22  # SP…
MAINNET_MULTI_SIG = 20  # SM…
TESTNET_SINGLE_SIG = 26  # ST…
TESTNET_MULTI_SIG = 21  # SN…

TRANSACTION_VERSION_MAINNET = 0x00
TRANSACTION_VERSION_TESTNET = 0x80
CHAIN_ID_MAINNET = 0x00000001
CHAIN_ID_TESTNET = 0x80000000


@dataclass(frozen=True)
class Network:
    name: str  # "mainnet", "testnet" or "devnet"
    api_url: str
    transaction_version: int
    chain_id: int
    single_sig_version: int
    multi_sig_version: int

    @property
    def is_mainnet(self) -> bool:
        return self.transaction_version == TRANSACTION_VERSION_MAINNET

    @property
    def address_network(self) -> str:
        return "mainnet" if self.is_mainnet else "testnet"


def _testnet_like(name: str, url: str) -> Network:
    return Network(name, url, TRANSACTION_VERSION_TESTNET, CHAIN_ID_TESTNET, TESTNET_SINGLE_SIG, TESTNET_MULTI_SIG)


MAINNET = Network(
    "mainnet", "https://api.mainnet.hiro.so", TRANSACTION_VERSION_MAINNET, CHAIN_ID_MAINNET,
    MAINNET_SINGLE_SIG, MAINNET_MULTI_SIG,
)
TESTNET = _testnet_like("testnet", "https://api.testnet.hiro.so")
DEVNET = _testnet_like("devnet", "http://127.0.0.1:3999")

PROFILES = {n.name: n for n in (MAINNET, TESTNET, DEVNET)}


def get_network(name_or_network, api_url: str | None = None) -> Network:
    """Resolve "mainnet" / "testnet" / "devnet" (or a Network) to a profile, optionally with another URL."""
    if isinstance(name_or_network, Network):
        net = name_or_network
    else:
        try:
            net = PROFILES[str(name_or_network).lower()]
        except KeyError:
            raise StacksError(
                f"unknown network '{name_or_network}': use one of {', '.join(PROFILES)}"
            ) from None
    if api_url:
        net = Network(net.name, api_url.rstrip("/"), net.transaction_version, net.chain_id,
                      net.single_sig_version, net.multi_sig_version)
    return net


def address_versions(network: str) -> tuple[int, int]:
    """(single-sig, multi-sig) address versions for "mainnet" or "testnet" (devnet uses testnet's)."""
    net = get_network(network)
    return net.single_sig_version, net.multi_sig_version
