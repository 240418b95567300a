"""Offline local models: the llama.cpp server, the packaged GGUF models and the demo built on them."""
