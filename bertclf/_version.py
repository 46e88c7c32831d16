"""The version, in one place: the package metadata, config.json and `bertclf --version` read it."""

__version__ = "0.4.0"
