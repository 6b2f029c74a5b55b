"""What the farm sub-commands share: connection and wallet options, the user's folder, event display.

Not a command itself (cli.COMMANDS does not list it).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..farm import keystore
from ..farm.connection import NETWORKS, ConnectionSettingsError, Endpoints
from ..farm.paths import HOME_ENV, standalone_home

WALLET_FILE = "wallet.json"  # the same file the panel's wallet uses


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("network and wallet")
    group.add_argument("--network", choices=NETWORKS, default=os.environ.get("RENDER_FARM_NETWORK", "local"),
                       help="local chain, testnet or mainnet (default: $RENDER_FARM_NETWORK or local)")
    group.add_argument("--node", default=os.environ.get("RENDER_FARM_NODE", ""),
                       help="Stacks API URL (default: the network's)")
    group.add_argument("--relay", default=os.environ.get("RENDER_FARM_RELAY", ""), help="relay URL")
    group.add_argument("--contract", default=os.environ.get("RENDER_FARM_CONTRACT", ""),
                       help="contract id ADDRESS.render-farm (default: the network's)")
    group.add_argument("--home", type=Path, default=None,
                       help=f"folder of the wallet, job list and transaction journal (default: ${HOME_ENV}, the "
                            "extension's folder inside Blender, else ~/.local/share/render-farm)")
    group.add_argument("--passphrase-fd", type=int, default=None, metavar="N",
                       help=f"read the wallet passphrase from file descriptor N (else ${keystore.PASSPHRASE_ENV}, "
                            "else a prompt)")


def home(args) -> Path:
    if args.home:
        folder = args.home
    elif __package__.startswith("bl_ext.") and not os.environ.get(HOME_ENV):
        from ..blender.identity import user_dir  # inside Blender: the panel's folder

        folder = user_dir()
    else:
        folder = standalone_home()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def endpoints(args) -> Endpoints:
    resolved = Endpoints.resolve(args.network, args.node, args.relay, args.contract)
    resolved.require()
    return resolved


def unlock(args) -> str:
    """The wallet's private key, unlocked with the passphrase from --passphrase-fd, the environment or a prompt."""
    wallet = keystore.load_keystore(home(args) / WALLET_FILE)
    return wallet.unlock(keystore.read_passphrase(fd=args.passphrase_fd)).private_key


def prepared(args) -> tuple[Endpoints, Path, str]:
    """(endpoints, home folder, unlocked private key) for a command that writes to the chain or relay."""
    return endpoints(args), home(args), unlock(args)


def fail(message: str, code: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


USER_ERRORS = (keystore.KeystoreError, ConnectionSettingsError)
