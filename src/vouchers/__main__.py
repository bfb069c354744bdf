"""``python -m vouchers`` runs the command line."""

from vouchers.entrypoints.cli.main import main

main()
