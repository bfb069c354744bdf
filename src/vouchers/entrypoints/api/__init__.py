"""The HTTP API (FastAPI): thin routes that parse, authorise, call services and render."""
