"""Who may see what: the viewer, couple membership, therapist grants and approval, and every read rule
(the blind rule, consent, shared text). Everything that returns a person's or a couple's data asks here
first. Uses only `program.infra`."""
