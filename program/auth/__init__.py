"""Signing in: accounts and passwords, server-side login sessions, throttling. Uses `program.privacy` and
`program.infra`."""
