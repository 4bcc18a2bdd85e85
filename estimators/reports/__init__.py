"""The report kit (page, PNGs, tables) and the learning curves every report shows."""
