"""The HTTP API, one module per concern; each exposes `router`."""
