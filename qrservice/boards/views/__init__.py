"""The boards' blueprints."""
