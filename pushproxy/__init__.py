"""pushproxy: the nginx push stream module as a front end that reads a real nginx.conf."""

__version__ = "0.1.0"
