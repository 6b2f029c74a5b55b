"""A bpy-free Stacks client: c32 addresses, keys, Clarity values, SIP-005 transactions, node API.

Wire formats follow SIP-005 and are cross-checked byte for byte against @stacks/transactions.
"""
