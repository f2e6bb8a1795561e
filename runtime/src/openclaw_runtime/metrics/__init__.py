"""Metrics: Triton-shaped statistics and Prometheus families."""

from .prom import CONTENT_TYPE_LATEST, Metrics, render
from .stats import ModelStats

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "ModelStats", "render"]
