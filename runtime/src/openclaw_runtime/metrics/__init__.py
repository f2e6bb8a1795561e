"""Metrics: Triton-shaped statistics and Prometheus families."""

from .prom import CONTENT_TYPE_LATEST, Metrics, observe_many, render
from .stats import ModelStats

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "ModelStats", "observe_many", "render"]
