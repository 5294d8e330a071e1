"""Legal pages and the data inventory they are generated from."""
