"""soundwave: train and evaluate Soundwave-style speech LLMs with ESPnet-style recipes."""

__version__ = "0.1.0"
