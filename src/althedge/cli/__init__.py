"""Command-line interface (typer + rich). Only argument parsing and rendering live here."""
