"""The `receiver` subcommands, one module each, imported only when chosen."""
