"""The audit log: low in the tree, so every feature can write to it."""
