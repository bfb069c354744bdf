"""``python -m vouchers`` runs the command line."""

from vouchers.entrypoints.cli.main import main

if __name__ == "__main__":  # spawned worker processes import this module too
    main()
