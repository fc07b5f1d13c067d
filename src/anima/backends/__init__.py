"""Backends behind small Protocols (LLM, embeddings, TTS, STT): the only vendor imports."""
