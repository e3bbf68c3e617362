"""The ``greenwave`` command line: parse, call the library, print."""
