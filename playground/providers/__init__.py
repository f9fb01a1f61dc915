"""Calling models: LiteLLM streaming, failure classes, the embedded local model, Ollama discovery."""
