"""Each HTTP channel speaks its provider's API shape to the sandbox; errors map to retry or
give up."""

from __future__ import annotations

import os

import pytest

from turnout.delivery.channels import HttpProvider, Message, PermanentError, TransientError


@pytest.mark.parametrize(
    ("channel", "to"),
    [
        ("sms", "+8613800000000"),
        ("voice", "+8613800000000"),
        ("wechat", "oWX-openid"),
        ("push", "fcm-token"),
    ],
)
async def test_each_channel_reaches_the_sandbox(provider, channel, to):
    p = HttpProvider(os.environ["TURNOUT_PROVIDER_URL"], channel, "ACsid:secret", "sender")
    ref = await p.send(
        Message(
            f"key-{channel}",
            channel,
            to,
            "Reminder",
            "Hi <you> & co",
            status_callback="http://127.0.0.1:1/cb",
            link="http://l/r/x",
        )
    )
    assert ref
    (msg,) = provider.messages
    assert (msg["channel"], msg["to"], msg["idempotency_key"]) == (channel, to, f"key-{channel}")
    if channel == "voice":
        assert msg["body"] == "<Response><Say>Hi &lt;you&gt; &amp; co</Say></Response>"
    else:
        assert msg["body"] == "Hi <you> & co"
    again = await p.send(Message(f"key-{channel}", channel, to, "Reminder", "Hi"))
    assert again == ref and len(provider.messages) == 1  # same key: the same message


async def test_provider_errors_are_classified(provider):
    p = HttpProvider(os.environ["TURNOUT_PROVIDER_URL"], "sms", "AC:x")
    provider.fail_rate = 1.0
    with pytest.raises(TransientError, match="503"):
        await p.send(Message("k1", "sms", "+1", "", "x"))
    down = HttpProvider("http://127.0.0.1:9", "push", "t")
    with pytest.raises(TransientError):
        await down.send(Message("k2", "push", "t", "", "x"))
    lost = HttpProvider(os.environ["TURNOUT_PROVIDER_URL"] + "/nowhere", "sms", "AC:x")
    provider.fail_rate = 0.0
    with pytest.raises(PermanentError, match="404"):
        await lost.send(Message("k3", "sms", "+1", "", "x"))


async def test_a_provider_redirect_is_not_followed(provider):
    """A provider URL is checked when saved; a redirect could lead anywhere (a metadata
    service, an internal host). It is refused, and the target never sees the message."""
    import asyncio

    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import RedirectResponse
    from starlette.routing import Route

    from tests.delivery.conftest import free_port

    target = os.environ["TURNOUT_PROVIDER_URL"] + "/2010-04-01/Accounts/AC/Messages.json"

    async def bounce(request):
        return RedirectResponse(target, 307)

    port = free_port()
    app = Starlette(routes=[Route("/{path:path}", bounce, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.02)
        p = HttpProvider(f"http://127.0.0.1:{port}", "sms", "AC:x")
        with pytest.raises(PermanentError, match="307"):
            await p.send(Message("k-redirect", "sms", "+1", "", "secret body"))
    finally:
        server.should_exit = True
        await serving
    assert provider.messages == []
