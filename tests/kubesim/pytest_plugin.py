"""pytest fixtures of the Kubernetes API emulator (filled in by the kubesim work)."""
