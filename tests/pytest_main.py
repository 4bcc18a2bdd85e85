"""Runs the pytest file(s) named on the command line; Bazel's py_test main for every test."""

import sys

import pytest

if __name__ == "__main__":
    sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", *sys.argv[1:]]))
