"""Congregation: a small federated node for one high-trust community."""

__version__ = "0.1.0"
SOFTWARE_NAME = "congregation"
