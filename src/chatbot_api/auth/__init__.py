"""Accounts and authentication: register, login, guests, tokens, Auth.js cookie compatibility."""
