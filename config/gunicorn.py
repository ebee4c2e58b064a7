"""Gunicorn settings shared by `make run`, the benchmark and the container image."""

from gunicorn.glogging import Logger

from config.logging import redact_url_secrets


class RedactingLogger(Logger):
    """Access log lines without URL-borne secrets (the Z-API webhook path carries one)."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "{raw_uri}"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact_url_secrets(atoms[key])
        return atoms
