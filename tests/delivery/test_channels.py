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
