"""Web pages of the organisation area, one blueprint per page group."""
