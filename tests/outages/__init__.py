"""Real processes and connections a test owns and breaks: its own redis-server, a TCP proxy in
front of PostgreSQL that it cuts, server processes it kills or signals."""
