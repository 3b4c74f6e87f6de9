"""A real Prometheus (Debian's package) scraping the service on the shared Ray, under load."""
