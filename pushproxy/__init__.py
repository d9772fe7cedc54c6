"""pushproxy: the nginx push stream module as a front end that reads a real nginx.conf."""

__version__ = "0.1.0"
NGINX_VERSION = "1.26.3"  # the nginx whose behaviour pushproxy follows
