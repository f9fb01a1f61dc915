"""LLM routing playground: route prompts across models, see why, what it cost and how fast."""

__version__ = "0.1.0"
