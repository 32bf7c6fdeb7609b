"""The ``atexpert`` command line and the demo wiring."""
