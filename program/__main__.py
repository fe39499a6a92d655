"""`python -m program COMMAND`: the operator's command line, in `program.ops.cli`."""

from program.ops.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
