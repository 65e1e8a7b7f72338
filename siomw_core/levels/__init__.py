"""Each level's integration with python-socketio: ``engine``, ``connect``, ``event``."""
