"""Operators: every one has a blocking execute() (headless: `bpy.ops.render_farm.x()` in `blender -b`)
and, in the UI, hands its slow part to the worker thread so Blender never freezes.

Secrets typed into a dialog (passphrase, 24 words, key) are SKIP_SAVE properties of operators without
the REGISTER flag: Blender neither remembers them for the next call nor logs the call in the Info
editor, and execute() blanks them once used.
"""

import shutil
from functools import partial

import bpy

from ..farm import keystore
from . import progress, wallet, worker
from .identity import preferences, user_dir
from .preferences import endpoints, network_allowed
from .session import SESSION

SECRET = {"SKIP_SAVE", "HIDDEN"}


def run_task(op, name: str, fn, *args) -> set:
    """Headless: run now and report like any operator. UI: queue it on the worker and return at once."""
    if not bpy.app.background or worker.THREAD_IN_BACKGROUND:
        worker.start(name, fn, *args)
        return {"FINISHED"}
    SESSION.reports.clear()  # only this task's reports
    worker.run_blocking(name, fn, *args, after=progress.sync)
    for level, text in SESSION.reports:
        op.report({level}, text)
    failed = any(level == "ERROR" for level, _ in SESSION.reports)
    SESSION.reports.clear()
    return {"CANCELLED"} if failed else {"FINISHED"}


def needs_network(cls, context) -> bool:
    allowed, why = network_allowed(preferences(context))
    if not allowed:
        cls.poll_message_set(why)
    return allowed


def headless_passphrase(typed: str) -> str:
    """The typed passphrase, or headless the environment variable (keystore.PASSPHRASE_ENV)."""
    if typed or not bpy.app.background:
        return typed
    return keystore.read_passphrase(prompt=False)


class RENDERFARM_OT_wallet_create(bpy.types.Operator):
    """Create a new wallet: a fresh 24-word recovery phrase, sealed under your passphrase"""
    bl_idname = "render_farm.wallet_create"
    bl_label = "Create Wallet"

    passphrase: bpy.props.StringProperty(name="Passphrase", subtype="PASSWORD", options=SECRET)
    repeat: bpy.props.StringProperty(name="Repeat", subtype="PASSWORD", options=SECRET)

    def invoke(self, context, event):
        return context.window_manager.invoke_props_dialog(self)

    def execute(self, context):
        typed, repeat = self.passphrase, self.repeat
        self.passphrase = self.repeat = ""
        passphrase = headless_passphrase(typed)
        if not passphrase:
            self.report({"ERROR"}, "Choose a passphrase: it protects the wallet file")
            return {"CANCELLED"}
        if not bpy.app.background and repeat != typed:
            self.report({"ERROR"}, "The two passphrases differ; nothing was created")
            return {"CANCELLED"}
        return run_task(self, "Creating the wallet", wallet.create, user_dir(), passphrase,
                        preferences(context).network)


class RENDERFARM_OT_wallet_import(bpy.types.Operator):
    """Import a wallet from its 24-word recovery phrase or a private key, sealed under your passphrase"""
    bl_idname = "render_farm.wallet_import"
    bl_label = "Import Wallet"

    words: bpy.props.StringProperty(name="Recovery Phrase", description="24 words, spaces between",
                                    subtype="PASSWORD", options=SECRET)
    private_key: bpy.props.StringProperty(name="Or Private Key", description="64 or 66 hex digits",
                                          subtype="PASSWORD", options=SECRET)
    passphrase: bpy.props.StringProperty(name="Passphrase", subtype="PASSWORD", options=SECRET)

    def invoke(self, context, event):
        return context.window_manager.invoke_props_dialog(self, width=500)

    def execute(self, context):
        words, key, passphrase = self.words.strip(), self.private_key.strip(), headless_passphrase(self.passphrase)
        self.words = self.private_key = self.passphrase = ""
        if not words and not key:
            self.report({"ERROR"}, "Give the 24 words or the private key of the wallet to import")
            return {"CANCELLED"}
        if not passphrase:
            self.report({"ERROR"}, "Choose a passphrase: it protects the wallet file")
            return {"CANCELLED"}
        return run_task(self, "Importing the wallet", partial(wallet.create, words=words, private_key=key),
                        user_dir(), passphrase, preferences(context).network)


class RENDERFARM_OT_wallet_unlock(bpy.types.Operator):
    """Unlock the wallet for this Blender session (asked once; the key stays in memory only)"""
    bl_idname = "render_farm.wallet_unlock"
    bl_label = "Unlock Wallet"

    passphrase: bpy.props.StringProperty(name="Passphrase", subtype="PASSWORD", options=SECRET)

    @classmethod
    def poll(cls, context):
        return SESSION.address is not None

    def invoke(self, context, event):
        return context.window_manager.invoke_props_dialog(self)

    def execute(self, context):
        passphrase = headless_passphrase(self.passphrase)
        self.passphrase = ""
        return run_task(self, "Unlocking the wallet", wallet.unlock, user_dir(), passphrase)


class RENDERFARM_OT_wallet_lock(bpy.types.Operator):
    """Forget the unlocked key until the wallet is unlocked again"""
    bl_idname = "render_farm.wallet_lock"
    bl_label = "Lock Wallet"

    @classmethod
    def poll(cls, context):
        return SESSION.unlocked

    def execute(self, context):
        SESSION.hold_key(None)
        return {"FINISHED"}


class RENDERFARM_OT_wallet_backup_done(bpy.types.Operator):
    """Hide the recovery phrase: it is not shown again"""
    bl_idname = "render_farm.wallet_backup_done"
    bl_label = "I Wrote Them Down"

    def execute(self, context):
        SESSION.backup_words = ""
        return {"FINISHED"}


class RENDERFARM_OT_wallet_export(bpy.types.Operator):
    """Copy the encrypted wallet file somewhere safe (uninstalling the add-on deletes its folder)"""
    bl_idname = "render_farm.wallet_export"
    bl_label = "Export Wallet File"

    filepath: bpy.props.StringProperty(subtype="FILE_PATH", options={"SKIP_SAVE"})

    @classmethod
    def poll(cls, context):
        return SESSION.address is not None

    def invoke(self, context, event):
        self.filepath = f"render-farm-wallet-{SESSION.address}.json"
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        if not self.filepath:
            self.report({"ERROR"}, "Choose where to save the wallet file")
            return {"CANCELLED"}
        shutil.copy2(wallet.wallet_path(user_dir()), bpy.path.abspath(self.filepath))
        self.report({"INFO"}, f"Encrypted wallet saved to {self.filepath}; it opens with the same passphrase")
        return {"FINISHED"}


class RENDERFARM_OT_wallet_refresh(bpy.types.Operator):
    """Read the wallet's balance from the chain"""
    bl_idname = "render_farm.wallet_refresh"
    bl_label = "Refresh Balance"

    @classmethod
    def poll(cls, context):
        return SESSION.address is not None and needs_network(cls, context)

    def execute(self, context):
        prefs = preferences(context)
        return run_task(self, "Reading the balance", wallet.read_balance, endpoints(prefs), SESSION.address)


class RENDERFARM_OT_faucet(bpy.types.Operator):
    """Get test STX from the local chain's faucet"""
    bl_idname = "render_farm.faucet"
    bl_label = "Faucet"

    @classmethod
    def poll(cls, context):
        if preferences(context).network != "local":
            cls.poll_message_set("Only the local chain has a built-in faucet")
            return False
        return SESSION.address is not None and needs_network(cls, context)

    def execute(self, context):
        node_url = endpoints(preferences(context)).node_url
        return run_task(self, "Asking the faucet", wallet.faucet, node_url, SESSION.address)


classes = (RENDERFARM_OT_wallet_create, RENDERFARM_OT_wallet_import, RENDERFARM_OT_wallet_unlock,
           RENDERFARM_OT_wallet_lock, RENDERFARM_OT_wallet_backup_done, RENDERFARM_OT_wallet_export,
           RENDERFARM_OT_wallet_refresh, RENDERFARM_OT_faucet)
