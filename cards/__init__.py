"""Member cards without Flask: signed tokens, QR matrices, and PDF cards, letters and badge sheets.

The Flask app (``qrservice``) calls these plain functions; nothing here touches a database or a
request. See ``cards.tokens``, ``cards.qr``, ``cards.layouts`` and ``cards.pdf``.
"""
