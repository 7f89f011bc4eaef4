"""The worker side: the pipeline's steps over the database and the Dramatiq actors running them.

Start workers with `dramatiq hint_actors`. Dramatiq's command line imports this package
and then serves its global broker, so when the importer is Dramatiq's command line (the
only importer of `dramatiq.cli`), the package builds the worker from the environment
here. Every other importer (the embedded mode, tests, scripts) builds its own runtime and
calls `hint_actors.worker.setup(runtime)`: importing the package binds nothing.
"""

import sys

if "dramatiq.cli" in sys.modules:
    from hint_actors.worker import setup

    setup()
