"""Code of Care companion for Discourse: the domain, the forum adapter, the Redis store and the CLI."""

__version__ = "0.1.0"
