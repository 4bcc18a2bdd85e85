"""absl command-line entry points: thin mains over the library packages."""
