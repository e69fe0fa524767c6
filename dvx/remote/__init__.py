"""Remotes: object stores on other filesystems, and the transfer engine between stores."""
