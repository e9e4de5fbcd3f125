"""The web console: its pages, served by `otakit serve` from what `pip install` puts on disk."""
