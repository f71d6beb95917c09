"""Organisational life: meetings and attendance, points, dues, a member's standing."""
