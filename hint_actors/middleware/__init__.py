"""The worker's Dramatiq middleware, one per module; `worker.setup` installs them in order."""
