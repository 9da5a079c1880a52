"""One blueprint per resource; views parse, call a service, serialize."""
