"""The ``vouchers`` command line (Typer), one sub-app per feature."""
