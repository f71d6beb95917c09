"""Web pages of organisational life."""
