"""Pieces every kestrel package shares: errors, file-system and network guards."""
