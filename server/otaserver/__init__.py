"""otakit's firmware and software over-the-air update server."""

__version__ = "0.1.0"
