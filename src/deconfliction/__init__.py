"""deconfliction: a channel where parties declare where and when they operate and are warned of conflicts."""

__version__ = "0.1.0"
