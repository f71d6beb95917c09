"""Boards and reports: each branch's management board (电子方针管理板), the organiser's overview,
exports, charts and the monthly PDF reports."""
