"""Code that the API and the workers share: config, database models, schemas, storage."""
