"""Handlers that report the shape they were given (`json.dumps` with sorted keys) and return it."""

import json

import snake_callbacks


def _seen(msg):
    return {"shape": json.dumps(msg, sort_keys=True), "back": msg}


def echo(msg):
    return _seen(msg)


def echo_items(msg):
    for i in range(2):
        seen = _seen(msg)
        # A fresh dict per item, so the second one differs from the first.
        seen["back"] = dict(msg, tagged=dict(msg["tagged"], size=msg["tagged"]["size"] + i))
        yield seen


async def via_callback(msg):
    return _seen(await snake_callbacks.wire_reflect_async(msg))
