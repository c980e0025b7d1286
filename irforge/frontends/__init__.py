"""Source-model frontends: each turns a framework's model into an irforge `Model`."""
