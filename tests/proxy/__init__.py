"""The reverse proxy over real sockets, against a small upstream app and Debian's nginx."""
