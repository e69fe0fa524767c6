"""Object storage: content-addressed stores, directory manifests, and the stat cache."""
