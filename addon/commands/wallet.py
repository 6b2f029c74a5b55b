"""The requester's wallet: create, import, show the address and balance, or get local test STX.

  wallet create            a new wallet; its 24 words are printed once (write them down)
  wallet import            from 24 words (or a private key with --key) read on standard input
  wallet show              address and balance (no passphrase needed)
  wallet faucet            test STX from the local chain

The key is sealed in the same encrypted file the panel uses (scrypt + AES-GCM); the passphrase comes
from --passphrase-fd, $RENDER_FARM_PASSPHRASE or a prompt, and secrets are never taken as arguments.
"""

from __future__ import annotations

import argparse
import sys

from . import common


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("create", "import", "show", "faucet"))
    parser.add_argument("--key", action="store_true", help="import: standard input holds a private key, not words")
    parser.add_argument("--amount", type=float, default=1000, metavar="STX", help="faucet: how much (default 1000)")
    common.add_connection_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..farm import keystore

    path = common.home(args) / common.WALLET_FILE
    network = "mainnet" if args.network == "mainnet" else "testnet"
    try:
        if args.action in ("create", "import"):
            secret = "" if args.action == "create" else sys.stdin.readline().strip()
            if args.action == "import" and not secret:
                return common.fail("give the 24 words (or, with --key, the private key) on standard input", 2)
            words = None
            if args.action == "create":
                from mnemonic import Mnemonic

                words = Mnemonic("english").generate(strength=256)
            elif not args.key:
                words = secret
            passphrase = keystore.read_passphrase(fd=args.passphrase_fd, confirm=True)
            created = keystore.create_keystore(path, passphrase, mnemonic=words,
                                               private_key=secret if args.key else None, network=network)
            print(f"wallet {created.address} saved (encrypted) in {path}")
            if args.action == "create":
                print("Write down these 24 words; they restore the wallet and are not shown again:")
                print(f"  {words}")
            return 0
        wallet = keystore.load_keystore(path)
        endpoints = common.endpoints(args)
        if args.action == "faucet":
            if args.network != "local":
                return common.fail("only the local chain has a faucet", 2)
            import httpx

            response = httpx.post(f"{endpoints.node_url}/devnet/faucet",
                                  json={"address": wallet.address, "amount": round(args.amount * 1_000_000)},
                                  timeout=10)
            response.raise_for_status()
        with endpoints.client(timeout=10) as node:
            balance = node.get_balance(wallet.address)
        print(f"{wallet.address}  {balance / 1e6:,.6f} STX on {args.network}")
    except common.USER_ERRORS as error:
        return common.fail(str(error), 2)
    except Exception as error:  # network: say which node and what to do
        from ..stacks.errors import StacksError

        if isinstance(error, (StacksError, OSError)) or type(error).__module__.startswith("httpx"):
            return common.fail(f"the node at {endpoints.node_url} did not answer ({error}); check --node or start "
                               "the local chain with `python -m server devnet`")
        raise
    return 0
