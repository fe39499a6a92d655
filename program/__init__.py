"""Kindred: the couples program's domain, testable without a browser."""
