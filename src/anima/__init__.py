"""Anima: a self-hostable engine for conversational AI characters."""

__version__ = "0.1.0"

__all__ = ["__version__"]
