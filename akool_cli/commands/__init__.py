"""The Typer commands. Each parses options, calls the client, and hands the result to the renderer."""
