"""The organisation: units, members, officers and their logins, cards, scanner devices."""
