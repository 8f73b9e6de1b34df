"""The operator's command line (`hospeda …`)."""
