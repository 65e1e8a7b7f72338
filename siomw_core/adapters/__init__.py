"""Server adapters: every private attribute of a python-socketio server kind that a siomw
level needs, behind one small interface per kind (``levels/event.py``'s ``EventAdapter``)."""
