"""The receiver service: HTTP API, the decision pipeline, reloads and background loops."""
