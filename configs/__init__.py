"""Bundled experiment configs, installed as the package dianjax.configs (see dianjax/config.py)."""
