"""Tables of the core database (SQLAlchemy 2 typed models), one module per area on one Base. Importing this
package registers every table (Alembic and `Base.metadata` see them all). Schema changes go through Alembic
migrations."""

from civicdesk.models.base import NAMING_CONVENTION, Base
from civicdesk.models.bookings import (
    AppointmentBooking,
    AppointmentLocation,
    AppointmentSlot,
    AppointmentType,
    EventRsvp,
    FormRequest,
    MailableItem,
    PublicEvent,
    appointment_type_location,
)
from civicdesk.models.catalogue import Department, Holiday, OnCallShift, ReferralOrganization, Service, ServiceAttribute
from civicdesk.models.chat import ChatMessage, Conversation, ConversationNote
from civicdesk.models.knowledge import KbArticle, KbArticleVersion, KnowledgeGap
from civicdesk.models.mail import EmailAttachment, InboundEmail, MailboxLease, MailCheckpoint, OutboundMessage
from civicdesk.models.operations import ComponentHeartbeat
from civicdesk.models.residents import Contact
from civicdesk.models.service_requests import (
    ServiceRequest,
    ServiceRequestAttachment,
    ServiceRequestChange,
    ServiceRequestNote,
)
from civicdesk.models.staff import ApiClient, AuditEntry, LoginAttempt, StaffSession, StaffUser
from civicdesk.models.triage import TriageCorrection

__all__ = [
    "NAMING_CONVENTION",
    "Base",
    "Department",
    "Holiday",
    "Service",
    "ServiceAttribute",
    "ReferralOrganization",
    "OnCallShift",
    "KbArticle",
    "KbArticleVersion",
    "KnowledgeGap",
    "AppointmentLocation",
    "appointment_type_location",
    "AppointmentType",
    "AppointmentSlot",
    "PublicEvent",
    "MailableItem",
    "AppointmentBooking",
    "EventRsvp",
    "FormRequest",
    "InboundEmail",
    "EmailAttachment",
    "OutboundMessage",
    "MailboxLease",
    "MailCheckpoint",
    "TriageCorrection",
    "ComponentHeartbeat",
    "Contact",
    "ServiceRequest",
    "ServiceRequestChange",
    "ServiceRequestNote",
    "ServiceRequestAttachment",
    "ApiClient",
    "StaffUser",
    "StaffSession",
    "LoginAttempt",
    "AuditEntry",
    "Conversation",
    "ChatMessage",
    "ConversationNote",
]
