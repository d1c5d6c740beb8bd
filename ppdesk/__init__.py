"""ppdesk: post-process SimpleTuner LoRA training runs on a pod or locally."""

__version__ = "0.1.0"
