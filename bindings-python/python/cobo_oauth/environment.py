"""Cobo's environments (the UDL's ``Environment``)."""

from __future__ import annotations

import enum

__all__ = ["Environment"]


class Environment(enum.Enum):
    """A Cobo environment: it picks the base URL and the key that signs Cobo's responses."""

    DEV = "dev"
    """``https://api.dev.cobo.com/v2``"""
    SANDBOX = "sandbox"
    """``https://api.sandbox.cobo.com/v2``"""
    PROD = "prod"
    """``https://api.cobo.com/v2``"""
