"""The bundled benchmark tables (``<name>.json``), read by :func:`dianjax.bench.load`."""
