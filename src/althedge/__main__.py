from althedge.cli.main import run

run()
