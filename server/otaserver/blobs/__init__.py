"""Content-addressed storage of package data on the filesystem."""
