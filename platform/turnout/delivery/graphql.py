"""Reminder policies, a preview of an interview's reminders, notifications, dead letters."""

from __future__ import annotations

import uuid
from datetime import datetime, time

import strawberry
from sqlalchemy import func, select, tuple_
from strawberry.types import Info

from ..auth.permissions import Perm
from ..crypto.fields import cipher_for
from ..graphql.connection import Connection
from ..graphql.errors import as_error, result
from ..graphql.lookahead import selected_paths
from ..graphql.permissions import any_of, requires
from ..graphql.relay import from_global, to_global
from ..kit.clock import clock
from ..kit.errors import ServiceError, invalid
from ..kit.pagination import decode_cursor, encode_cursor, page_size
from ..recruiting.models import Candidate, Interview, Job
from . import policy as policies
from . import service, templates, webhooks
from .models import ChannelSetting, DeadLetter, WebhookDelivery, WebhookSubscription


@strawberry.type(name="ReminderStep")
class ReminderStepType:
    offset_minutes: int = strawberry.field(description="Minutes before the anchor.")
    anchor: str
    channels: list[str]
    condition: str
    escalate_after_minutes: int | None
    escalate_channel: str | None


@strawberry.type(name="ReminderPolicy")
class ReminderPolicyType:
    priority: str
    steps: list[ReminderStepType]
    quiet_start: str | None
    quiet_end: str | None


@strawberry.type(name="PlannedReminder")
class PlannedReminderType:
    step: int
    channel: str
    due_at: datetime
    condition: str
    moved_by_quiet_hours: bool


@strawberry.type(name="DeadLetter")
class DeadLetterType:
    notification_id: strawberry.ID
    channel: str
    error: str
    attempts: int
    at: datetime


@strawberry.input
class ReminderStepInput:
    offset_minutes: int
    channels: list[str]
    anchor: str = "start"
    condition: str = "always"
    escalate_after_minutes: int | None = None
    escalate_channel: str | None = None


@strawberry.input
class ReminderPolicyInput:
    steps: list[ReminderStepInput]
    quiet_start: str | None = "21:00"
    quiet_end: str | None = "08:00"


@strawberry.type
class ReminderPolicyPayload:
    policy: ReminderPolicyType


ReminderPolicyResult = result("ReminderPolicyResult", ReminderPolicyPayload)


def _policy_type(priority: str, p: policies.Policy) -> ReminderPolicyType:
    return ReminderPolicyType(
        priority=priority,
        steps=[
            ReminderStepType(
                offset_minutes=s.offset_minutes,
                anchor=s.anchor,
                channels=list(s.channels),
                condition=s.condition,
                escalate_after_minutes=s.escalate_after_minutes,
                escalate_channel=s.escalate_channel,
            )
            for s in p.steps
        ],
        quiet_start=p.quiet_start.strftime("%H:%M") if p.quiet_start else None,
        quiet_end=p.quiet_end.strftime("%H:%M") if p.quiet_end else None,
    )


def _hhmm(value: str | None, field: str) -> time | None:
    if value is None:
        return None
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise invalid(field, "must be a time as HH:MM") from None


@strawberry.type
class DeliveryQuery:
    @strawberry.field(
        permission_classes=[requires(Perm.SETTINGS_READ)],
        description='The policy for a job priority; "" is the default.',
    )
    async def reminder_policy(self, info: Info, priority: str = "") -> ReminderPolicyType:
        async with info.context.tenant_db() as s:
            return _policy_type(priority, await service.policy_for(s, priority))

    @strawberry.field(
        permission_classes=[requires(Perm.INTERVIEWS_READ)],
        description="The reminders an interview would get, and when.",
    )
    async def preview_reminders(
        self, info: Info, interview_id: strawberry.ID
    ) -> list[PlannedReminderType]:
        pk = from_global(interview_id, "interviewId", "Interview")[1]
        ctx = info.context
        async with ctx.tenant_db() as s:
            iv = await s.get(Interview, pk)
            if iv is None:
                return []
            cand = await s.get(Candidate, iv.candidate_id)
            job = await s.get(Job, iv.job_id)
            cipher = await cipher_for(s, ctx.require_tenant().id)
            pol = await service.policy_for(s, job.priority)
            planned = policies.plan(
                pol,
                iv.kind,
                iv.opens_at,
                iv.closes_at,
                cand.time_zone,
                clock.now(),
                await service.preferred_channels(s, cand, cipher),
            )
        return [
            PlannedReminderType(
                step=p.step,
                channel=p.channel,
                due_at=p.due_at,
                condition=p.condition,
                moved_by_quiet_hours=p.moved_by_quiet_hours,
            )
            for p in planned
        ]

    @strawberry.field(
        permission_classes=[any_of(Perm.INTERVIEWS_WRITE, Perm.SETTINGS_MANAGE)],
        description="Messages that failed for good, newest first.",
    )
    async def dead_letters(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[DeadLetterType]:
        n = page_size(first)
        async with info.context.tenant_db() as s:
            stmt = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(n + 1)
            if after:
                stmt = stmt.where(DeadLetter.id < int(decode_cursor(after, 1)[0]))
            rows = list((await s.execute(stmt)).scalars())
            total = None
            if "totalCount" in selected_paths(info):
                total = await s.scalar(select(func.count()).select_from(DeadLetter))
        return Connection.of(
            [
                (
                    encode_cursor(d.id),
                    DeadLetterType(
                        notification_id=to_global("Notification", d.notification_id),
                        channel=d.channel,
                        error=d.error,
                        attempts=d.attempts,
                        at=d.at,
                    ),
                )
                for d in rows[:n]
            ],
            len(rows) > n,
            total,
        )


@strawberry.type
class DeliveryMutation:
    @strawberry.mutation(permission_classes=[requires(Perm.SETTINGS_MANAGE)])
    async def set_reminder_policy(
        self, info: Info, input: ReminderPolicyInput, priority: str = ""
    ) -> ReminderPolicyResult:
        ctx = info.context
        try:
            pol = policies.Policy(
                steps=[
                    policies.Step(
                        offset_minutes=s.offset_minutes,
                        channels=list(s.channels),
                        anchor=s.anchor,
                        condition=s.condition,
                        escalate_after_minutes=s.escalate_after_minutes,
                        escalate_channel=s.escalate_channel,
                    )
                    for s in input.steps
                ],
                quiet_start=_hhmm(input.quiet_start, "quietStart"),
                quiet_end=_hhmm(input.quiet_end, "quietEnd"),
            )
            async with ctx.tenant_db() as s:
                await service.set_policy(
                    s, priority, pol, ctx.principal.email or ctx.principal.client_id or ""
                )
                await s.commit()
        except ServiceError as exc:
            return as_error(exc)
        return ReminderPolicyPayload(policy=_policy_type(priority, pol))


@strawberry.type(name="WebhookSubscription")
class WebhookSubscriptionType:
    id: strawberry.ID
    url: str
    events: list[str]
    active: bool
    created_at: datetime


@strawberry.type(name="WebhookDelivery")
class WebhookDeliveryType:
    id: strawberry.ID
    event: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str
    delivered_at: datetime | None
    created_at: datetime


@strawberry.type
class WebhookSubscriptionPayload:
    subscription: WebhookSubscriptionType
    secret: str | None = strawberry.field(
        default=None, description="Signs every delivery (X-Turnout-Signature); shown once."
    )


WebhookSubscriptionResult = result("WebhookSubscriptionResult", WebhookSubscriptionPayload)


def _sub_type(s) -> WebhookSubscriptionType:
    return WebhookSubscriptionType(
        id=to_global("WebhookSubscription", s.id),
        url=s.url,
        events=list(s.events),
        active=s.active,
        created_at=s.created_at,
    )


@strawberry.type
class WebhookQuery:
    @strawberry.field(permission_classes=[requires(Perm.WEBHOOKS_MANAGE)])
    async def webhook_subscriptions(self, info: Info) -> list[WebhookSubscriptionType]:
        async with info.context.tenant_db() as s:
            rows = (
                await s.execute(
                    select(WebhookSubscription).order_by(WebhookSubscription.created_at)
                )
            ).scalars()
            return [_sub_type(r) for r in rows]

    @strawberry.field(
        permission_classes=[requires(Perm.WEBHOOKS_MANAGE)],
        description="The delivery log, newest first.",
    )
    async def webhook_deliveries(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        event: str | None = None,
    ) -> Connection[WebhookDeliveryType]:
        n = page_size(first)
        async with info.context.tenant_db() as s:
            stmt = (
                select(WebhookDelivery)
                .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
                .limit(n + 1)
            )
            if event:
                stmt = stmt.where(WebhookDelivery.event == event)
            if after:
                at, rid = decode_cursor(after, 2)
                try:
                    key = (datetime.fromisoformat(at), uuid.UUID(rid))
                except ValueError:
                    raise invalid("after", "not a cursor this API issued") from None
                stmt = stmt.where(
                    tuple_(WebhookDelivery.created_at, WebhookDelivery.id) < tuple_(*key)
                )
            rows = list((await s.execute(stmt)).scalars())
            total = None
            if "totalCount" in selected_paths(info):
                count = select(func.count()).select_from(WebhookDelivery)
                if event:
                    count = count.where(WebhookDelivery.event == event)
                total = await s.scalar(count)
        return Connection.of(
            [
                (
                    encode_cursor(d.created_at.isoformat(), d.id),
                    WebhookDeliveryType(
                        id=to_global("WebhookDelivery", d.id),
                        event=d.event,
                        status=d.status,
                        attempts=d.attempts,
                        last_status_code=d.last_status_code,
                        last_error=d.last_error,
                        delivered_at=d.delivered_at,
                        created_at=d.created_at,
                    ),
                )
                for d in rows[:n]
            ],
            len(rows) > n,
            total,
        )


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(permission_classes=[requires(Perm.WEBHOOKS_MANAGE)])
    async def create_webhook_subscription(
        self, info: Info, url: str, events: list[str]
    ) -> WebhookSubscriptionResult:
        ctx = info.context
        try:
            async with ctx.tenant_db() as s:
                cipher = await cipher_for(s, ctx.require_tenant().id)
                sub, secret = await webhooks.subscribe(
                    s, cipher, url, events, allow_internal=ctx.settings.development
                )
                await s.commit()
                await s.refresh(sub)
        except ServiceError as exc:
            return as_error(exc)
        return WebhookSubscriptionPayload(subscription=_sub_type(sub), secret=secret)

    @strawberry.mutation(permission_classes=[requires(Perm.WEBHOOKS_MANAGE)])
    async def delete_webhook_subscription(
        self, info: Info, id: strawberry.ID
    ) -> WebhookSubscriptionResult:
        ctx = info.context
        try:
            pk = from_global(id, "id", "WebhookSubscription")[1]
            async with ctx.tenant_db() as s:
                sub = await s.get(WebhookSubscription, pk)
                await webhooks.unsubscribe(s, pk)
                await s.commit()
        except ServiceError as exc:
            return as_error(exc)
        return WebhookSubscriptionPayload(subscription=_sub_type(sub))


@strawberry.type(name="ChannelSetting")
class ChannelSettingType:
    channel: str
    base_url: str
    sender: str
    has_credential: bool = strawberry.field(description="The credential itself is never shown.")


@strawberry.type(name="MessageTemplate")
class MessageTemplateType:
    kind: str
    locale: str
    subject: str
    body: str
    built_in: bool


@strawberry.type
class ChannelSettingPayload:
    setting: ChannelSettingType


@strawberry.type
class MessageTemplatePayload:
    template: MessageTemplateType


ChannelSettingResult = result("ChannelSettingResult", ChannelSettingPayload)
MessageTemplateResult = result("MessageTemplateResult", MessageTemplatePayload)


@strawberry.type
class ProviderQuery:
    @strawberry.field(permission_classes=[requires(Perm.SETTINGS_MANAGE)])
    async def channel_settings(self, info: Info) -> list[ChannelSettingType]:
        async with info.context.tenant_db() as s:
            rows = await s.execute(select(ChannelSetting).order_by(ChannelSetting.channel))
            return [
                ChannelSettingType(
                    channel=r.channel,
                    base_url=r.base_url,
                    sender=r.sender,
                    has_credential=r.credential_enc is not None,
                )
                for r in rows.scalars()
            ]

    @strawberry.field(
        permission_classes=[requires(Perm.SETTINGS_READ)],
        description="Every kind and locale: the tenant's own or the built-in.",
    )
    async def message_templates(self, info: Info) -> list[MessageTemplateType]:
        async with info.context.tenant_db() as s:
            own = await templates.all_templates(s)
        return [
            MessageTemplateType(
                kind=k,
                locale=loc,
                subject=(own.get((k, loc)) or v)[0],
                body=(own.get((k, loc)) or v)[1],
                built_in=(k, loc) not in own,
            )
            for (k, loc), v in templates.BUILT_IN.items()
        ]


@strawberry.type
class ProviderMutation:
    @strawberry.mutation(
        permission_classes=[requires(Perm.SETTINGS_MANAGE)],
        description="Use the tenant's own provider for a channel.",
    )
    async def set_channel_setting(
        self,
        info: Info,
        channel: str,
        base_url: str,
        credential: str | None = None,
        sender: str = "",
    ) -> ChannelSettingResult:
        ctx = info.context
        try:
            async with ctx.tenant_db() as s:
                cipher = await cipher_for(s, ctx.require_tenant().id)
                row = await service.set_channel(
                    s,
                    cipher,
                    channel,
                    base_url,
                    credential,
                    sender,
                    allow_internal=ctx.settings.development,
                )
                await s.commit()
        except ServiceError as exc:
            return as_error(exc)
        return ChannelSettingPayload(
            setting=ChannelSettingType(
                channel=row.channel,
                base_url=row.base_url,
                sender=row.sender,
                has_credential=row.credential_enc is not None,
            )
        )

    @strawberry.mutation(permission_classes=[requires(Perm.SETTINGS_MANAGE)])
    async def set_message_template(
        self, info: Info, kind: str, locale: str, subject: str, body: str
    ) -> MessageTemplateResult:
        try:
            async with info.context.tenant_db() as s:
                row = await templates.set_template(s, kind, locale, subject, body)
                await s.commit()
        except ServiceError as exc:
            return as_error(exc)
        return MessageTemplatePayload(
            template=MessageTemplateType(
                kind=row.kind, locale=row.locale, subject=row.subject, body=row.body, built_in=False
            )
        )
