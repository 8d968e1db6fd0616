"""tfpilot plugin: a local sandbox cloud managed by a real Terraform provider written in Python.

Importing this package is cheap on purpose: the plugin host imports it at start-up, so the ``tf``
framework (gRPC, protobuf, cryptography) is imported only inside the provider process.
"""

from __future__ import annotations

#: Terraform provider source address (``registry.terraform.io/<namespace>/<type>``).
PROVIDER_HOST = "registry.terraform.io"
PROVIDER_NAMESPACE = "tfpilot"
PROVIDER_TYPE = "sandbox"
PROVIDER_VERSION = "0.1.0"
#: The short source address used in ``required_providers``.
PROVIDER_SOURCE = f"{PROVIDER_NAMESPACE}/{PROVIDER_TYPE}"
#: Environment variable the provider reads when its ``root`` attribute is not set.
ROOT_ENV = "TFPILOT_SANDBOX_ROOT"

__all__ = [
    "PROVIDER_HOST",
    "PROVIDER_NAMESPACE",
    "PROVIDER_SOURCE",
    "PROVIDER_TYPE",
    "PROVIDER_VERSION",
    "ROOT_ENV",
]
