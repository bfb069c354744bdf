"""The pure core of Vouchers: money, secret codes, voucher types, lots, life cycle and rules.

Nothing here performs I/O or imports a framework: modules use only the standard library,
``vouchers.errors`` and the ``iso4217`` table, so every rule is tested in microseconds and
reused unchanged by the library, the CLI, the HTTP API, the web console and RADIUS.
"""
