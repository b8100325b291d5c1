"""Typed SQLAlchemy models of the domain (docs/rules.md). Models never commit."""

from vip.models import (
    customer_search,  # noqa: F401, E402 - the search index's DDL events
    customer_trigrams,  # noqa: F401, E402 - its triggers' DDL events
    order_due_summary,  # noqa: F401, E402 - its triggers' DDL events
    reminder_summary,  # noqa: F401, E402 - its triggers' DDL events
)
from vip.models.api_keys import ApiKey, ApiKeyScope, IdempotentRequest
from vip.models.audit import AuditEvent
from vip.models.authorizations import (
    AuthorizationStatus,
    PurchaseAuthorization,
    PurchaseAuthorizationLine,
)
from vip.models.calendar_feeds import CalendarFeed
from vip.models.catalog import LicenseType, MarketSegment, Product
from vip.models.customer_trigrams import CustomerTrigram, TrigramPosition
from vip.models.customers import Customer, CustomerStatus, Invitation
from vip.models.discount_levels import CommitmentState, ThreeYearCommitment
from vip.models.licenses import LicenseAssignment
from vip.models.notifications import Notification, NotificationStatus
from vip.models.orders import (
    Order,
    OrderLine,
    OrderStatus,
    OrderType,
    ReturnAuthorization,
    ReturnAuthorizationLine,
    ReturnStatus,
)
from vip.models.pipeline import PipelineDay, PipelineEntry
from vip.models.tenancy import (
    RecoveryCode,
    Reseller,
    Role,
    User,
    VipAdminCustomer,
    administered_customer_ids,
)
from vip.models.webhooks import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

__all__ = [
    "TrigramPosition",
    "ApiKey",
    "ApiKeyScope",
    "AuditEvent",
    "AuthorizationStatus",
    "CalendarFeed",
    "CommitmentState",
    "Customer",
    "CustomerStatus",
    "CustomerTrigram",
    "DeliveryStatus",
    "IdempotentRequest",
    "Invitation",
    "LicenseAssignment",
    "LicenseType",
    "MarketSegment",
    "Notification",
    "NotificationStatus",
    "Order",
    "OrderLine",
    "OrderStatus",
    "OrderType",
    "PipelineDay",
    "PipelineEntry",
    "Product",
    "PurchaseAuthorization",
    "PurchaseAuthorizationLine",
    "RecoveryCode",
    "Reseller",
    "ReturnAuthorization",
    "ReturnAuthorizationLine",
    "ReturnStatus",
    "Role",
    "ThreeYearCommitment",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "VipAdminCustomer",
    "administered_customer_ids",
]
