"""The local web dashboard (``althedge serve``): pages and a JSON API over the services."""
