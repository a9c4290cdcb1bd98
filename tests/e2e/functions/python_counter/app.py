"""The official tenant-isolation sample (aws-samples/sample-lambda-tenant-isolation), in Python:
state in memory and in /tmp persists per tenant and never crosses tenants."""

import os

COUNTER_FILE = "/tmp/counter.txt"
memory_counter = 0


def handler(event, context):
    global memory_counter
    memory_counter += 1
    disk_counter = 0
    if os.path.exists(COUNTER_FILE):
        with open(COUNTER_FILE) as f:
            disk_counter = int(f.read())
    disk_counter += 1
    with open(COUNTER_FILE, "w") as f:
        f.write(str(disk_counter))
    return {"memoryCounter": memory_counter, "diskCounter": disk_counter, "tenantId": context.tenant_id}
