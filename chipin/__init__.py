"""Chipin: group expense sharing inside the chats people already use."""

__version__ = "0.1.0"
