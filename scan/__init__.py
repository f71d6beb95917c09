"""Scanning and check-in: the one check-in operation, its JSON API and the scanner pages."""
