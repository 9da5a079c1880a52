"""Business rules behind the routes: validate, read and write rows, raise domain errors."""
