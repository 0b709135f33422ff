"""Fixtures of the model planner tests."""

from tests.planner.llm._chat_server import serve

__all__ = ["serve"]
