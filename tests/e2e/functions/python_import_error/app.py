"""Fails during Init: awslambdaric reports Runtime.ImportModuleError to /runtime/init/error."""

import bulkhead_e2e_module_that_does_not_exist  # noqa: F401


def handler(event, context):
    return "unreachable"
