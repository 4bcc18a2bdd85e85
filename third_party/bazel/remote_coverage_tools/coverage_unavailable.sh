#!/bin/sh
echo "coverage tools are not available offline; use 'make test' with pytest-cov instead" >&2
exit 1
