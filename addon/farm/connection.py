"""Where the requester's side talks to: network, node, relay and contract, and the objects built from them.

One place for the defaults, shared by the add-on's preferences and the headless CLI. `open_requester`
gives the requester flow (addon.farm.requester) over a RenderFarm whose every write goes through the
transaction journal in the user's folder, so a restart neither forgets nor double-sends one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from ..stacks.api import StacksClient
from .contract import RenderFarm
from .events import EventSink, ignore
from .tx_journal import TxJournal

LOCAL_DEPLOYER = "ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM"  # the local chain's well-known deployer
DEFAULTS = {
    # network: (node URL, relay URL, contract id)
    "local": ("http://127.0.0.1:3999", "http://127.0.0.1:8780", f"{LOCAL_DEPLOYER}.render-farm"),
    "testnet": ("https://api.testnet.hiro.so", "", ""),
    "mainnet": ("https://api.mainnet.hiro.so", "", ""),
}
NETWORKS = tuple(DEFAULTS)
LOOPBACK = ("127.0.0.1", "localhost", "::1")
JOURNAL_FILE = "transactions.sqlite3"


class ConnectionSettingsError(ValueError):
    """A network setting is missing or malformed; the message names the setting to fix."""


@dataclass(frozen=True)
class Endpoints:
    network: str
    node_url: str
    relay_url: str
    contract_id: str

    @classmethod
    def resolve(cls, network: str, node_url: str = "", relay_url: str = "", contract_id: str = "") -> Endpoints:
        """Each given value, or the network's default."""
        if network not in DEFAULTS:
            raise ConnectionSettingsError(f"unknown network {network!r}: use one of {', '.join(NETWORKS)}")
        node, relay, contract = DEFAULTS[network]
        return cls(network, node_url.strip() or node, relay_url.strip() or relay, contract_id.strip() or contract)

    @property
    def local_only(self) -> bool:
        """Everything this touches is on this machine (no internet)."""
        return all(urlparse(url).hostname in LOOPBACK for url in (self.node_url, self.relay_url) if url)

    @property
    def chain_network(self) -> str:
        """The Stacks client's profile name: the local chain is "devnet"."""
        return "devnet" if self.network == "local" else self.network

    def require(self) -> None:
        for value, name in ((self.node_url, "node URL"), (self.relay_url, "relay URL"),
                            (self.contract_id, "contract id (ADDRESS.render-farm)")):
            if not value:
                raise ConnectionSettingsError(f"no {name} is set for {self.network}: set it in the add-on's "
                                              "preferences (or pass it on the command line)")

    def client(self, timeout: float = 30.0) -> StacksClient:
        return StacksClient(self.chain_network, api_url=self.node_url, timeout=timeout)


def open_farm(endpoints: Endpoints, home: Path, *, timeout: float = 120.0) -> RenderFarm:
    """The contract through a client and the user's transaction journal."""
    endpoints.require()
    journal = TxJournal(Path(home) / JOURNAL_FILE)
    return RenderFarm(endpoints.client(), endpoints.contract_id, timeout=timeout, journal=journal)


def open_requester(endpoints: Endpoints, home: Path, private_key: str, *, on_event: EventSink = ignore):
    from .requester import Requester

    return Requester(open_farm(endpoints, home), endpoints.relay_url, private_key, on_event=on_event)
