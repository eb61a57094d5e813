"""The floor: typed errors and exit codes, text safety, input checks, signals. Imports nothing else from akool_cli."""
