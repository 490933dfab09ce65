"""Domain logic shared by the HTTP handlers and the CLI."""
