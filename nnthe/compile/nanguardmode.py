"""Theano's ``theano.compile.nanguardmode``: ``NanGuardMode``."""
from ..core.compile.debugmode import NanGuardMode

__all__ = ["NanGuardMode"]
