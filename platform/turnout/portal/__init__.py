"""The candidate portal (/i/<token>) and the AI-interview vendor's events."""
