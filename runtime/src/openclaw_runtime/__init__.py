"""OpenClaw inference runtime: Open Inference Protocol server on aiohttp + onnxruntime."""

__all__ = ["__version__"]

__version__ = "0.1.0"
