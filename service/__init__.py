"""Streaming early warnings for an electric utility's customer service."""
