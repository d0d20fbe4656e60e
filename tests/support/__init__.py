"""Test helpers: the stand-in Ollama server and packaged model paths."""
