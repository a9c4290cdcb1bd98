"""A function that reports what it sees, and fails on request.

The event's "action" picks the behaviour: "echo" (default), "print" (print `text` and `lines`
lines of it), "raise", "sleep" (`seconds`), "exit" (`code`, without answering), "oom"
(allocate `mb` MiB), "big" (return a string of `bytes` characters), "size" (return the length
of the event's `blob`). Every environment gets a random id at import, so callers can tell
environments apart.
"""

import os
import sys
import time
import uuid

ENV_ID = uuid.uuid4().hex
COUNT = 0
INIT_TENANT_ENV = {k: v for k, v in os.environ.items() if "TENANT" in k.upper()}


def _writable(path):
    try:
        with open(path, "w") as f:
            f.write("x")
        os.unlink(path)
        return True
    except OSError:
        return False


def _client_context(context):
    cc = context.client_context
    if cc is None:
        return None
    client = cc.client
    return {
        "custom": cc.custom,
        "env": cc.env,
        "client": None if client is None else {"installation_id": client.installation_id, "app_title": client.app_title},
    }


def handler(event, context):
    global COUNT
    COUNT += 1
    action = event.get("action", "echo") if isinstance(event, dict) else "echo"
    if action == "print":
        for i in range(int(event.get("lines", 1))):
            print(f"{event['text']} {i}", flush=True)
    elif action == "raise":
        raise ValueError(event.get("message", "boom"))
    elif action == "sleep":
        time.sleep(float(event["seconds"]))
    elif action == "exit":
        sys.stdout.flush()
        os._exit(int(event.get("code", 1)))
    elif action == "oom":
        hog = b"x" * (int(event["mb"]) << 20)
        return {"survived": len(hog)}
    elif action == "big":
        return "x" * int(event["bytes"])
    elif action == "size":
        return {"size": len(event["blob"]), "count": COUNT}
    return {
        "count": COUNT,
        "envId": ENV_ID,
        "tenantId": context.tenant_id,
        "requestId": context.aws_request_id,
        "functionArn": context.invoked_function_arn,
        "functionName": context.function_name,
        "functionVersion": context.function_version,
        "memoryLimitInMB": context.memory_limit_in_mb,
        "logGroupName": context.log_group_name,
        "logStreamName": context.log_stream_name,
        "remainingMs": context.get_remaining_time_in_millis(),
        "clientContext": _client_context(context),
        "uid": os.getuid(),
        "gid": os.getgid(),
        "cwd": os.getcwd(),
        "tmpWritable": _writable("/tmp/probe-write-test"),
        "taskWritable": _writable("/var/task/probe-write-test"),
        "env": {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "LAMBDA_", "_HANDLER", "TZ"))
                and k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")},
        "tenantEnvAtInit": INIT_TENANT_ENV,
        "event": event,
    }
