"""Test-session settings: commands run through ``dianjax.cli.main`` leave JAX's persistent
compilation cache off, so no test writes to the user's cache or depends on what it holds."""

import os

os.environ["DIANJAX_COMPILATION_CACHE"] = "off"
