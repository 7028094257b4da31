"""gridhub: department feeds in, one validated warehouse of 四标四实 out."""

__version__ = "0.1.0"
