"""A local emulator of Akool's Image-to-Video API, written from the vendor's page.

It imports nothing from the rest of akool_cli on purpose: the client and the sandbox
must not be able to agree on the same mistake.
"""

from akool_cli.sandbox.server import SandboxServer, start_sandbox
from akool_cli.sandbox.state import (
                                     SANDBOX_API_KEY,
                                     SANDBOX_CLIENT_ID,
                                     SANDBOX_CLIENT_SECRET,
                                     Fault,
                                     SandboxConfig,
                                     parse_fault,
)

__all__ = ["SANDBOX_API_KEY", "SANDBOX_CLIENT_ID", "SANDBOX_CLIENT_SECRET", "Fault", "SandboxConfig",
           "SandboxServer", "parse_fault", "start_sandbox"]
