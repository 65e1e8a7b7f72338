"""siomw's pytest plugin (registered under ``pytest11``): being written."""
