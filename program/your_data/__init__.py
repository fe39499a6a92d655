"""A person's own data: the export to take away, and deleting an account. Uses the layers below it."""
