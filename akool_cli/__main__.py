from akool_cli.main import run

run()
