"""service requests, contacts, bookings, RSVPs, form requests, API clients

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 07:21:11.175790
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import civicdesk.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_client",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("created_at", civicdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", civicdesk.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_client")),
        sa.UniqueConstraint("key_sha256", name=op.f("uq_api_client_key_sha256")),
        sa.UniqueConstraint("name", name=op.f("uq_api_client_name")),
    )
    op.create_table(
        "contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("preferred_language", sa.String(length=8), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("created_at", civicdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", civicdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact")),
        sa.UniqueConstraint("email", name=op.f("uq_contact_email")),
        sa.UniqueConstraint("phone", name=op.f("uq_contact_phone")),
    )
    op.create_table(
        "event_rsvp",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("party_size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("created_at", civicdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", civicdesk.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"], name=op.f("fk_event_rsvp_contact_id_contact")),
        sa.ForeignKeyConstraint(["event_id"], ["public_event.id"], name=op.f("fk_event_rsvp_event_id_public_event")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_rsvp")),
        sa.UniqueConstraint("reference", name=op.f("uq_event_rsvp_reference")),
    )
    with op.batch_alter_table("event_rsvp", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_rsvp_event_id"), ["event_id"], unique=False)

    op.create_table(
        "form_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("copies", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("street", sa.String(length=300), nullable=False),
        sa.Column("city", sa.String(length=120), nullable=False),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.Column("postal_code", sa.String(length=7), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("created_at", civicdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("mailed_at", civicdesk.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"], name=op.f("fk_form_request_contact_id_contact")),
        sa.ForeignKeyConstraint(["item_id"], ["mailable_item.id"], name=op.f("fk_form_request_item_id_mailable_item")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_request")),
        sa.UniqueConstraint("reference", name=op.f("uq_form_request_reference")),
    )
    op.create_table(
        "service_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=True),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("postal_code", sa.String(length=7), nullable=True),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("long", sa.Double(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("urgency", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("assignee", sa.String(length=120), nullable=True),
        sa.Column("api_client_id", sa.Integer(), nullable=True),
        sa.Column("token", sa.String(length=64), nullable=True),
        sa.Column("created_at", civicdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", civicdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", civicdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", civicdesk.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["api_client_id"], ["api_client.id"], name=op.f("fk_service_request_api_client_id_api_client")
        ),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"], name=op.f("fk_service_request_contact_id_contact")),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_service_request_department_id_department")
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referral_organization.id"],
            name=op.f("fk_service_request_referral_id_referral_organization"),
        ),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"], name=op.f("fk_service_request_service_id_service")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_request")),
        sa.UniqueConstraint("reference", name=op.f("uq_service_request_reference")),
        sa.UniqueConstraint("token", name=op.f("uq_service_request_token")),
    )
    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_service_request_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_service_request_status"), ["status"], unique=False)

    op.create_table(
        "appointment_booking",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("created_at", civicdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", civicdesk.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"], name=op.f("fk_appointment_booking_contact_id_contact")),
        sa.ForeignKeyConstraint(
            ["slot_id"], ["appointment_slot.id"], name=op.f("fk_appointment_booking_slot_id_appointment_slot")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_booking")),
        sa.UniqueConstraint("reference", name=op.f("uq_appointment_booking_reference")),
    )
    with op.batch_alter_table("appointment_booking", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_appointment_booking_slot_id"), ["slot_id"], unique=False)

    op.create_table(
        "service_request_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=120), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["service_request.id"],
            name=op.f("fk_service_request_attachment_request_id_service_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_request_attachment")),
    )
    with op.batch_alter_table("service_request_attachment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_service_request_attachment_request_id"), ["request_id"], unique=False)

    op.create_table(
        "service_request_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("at", civicdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["service_request.id"],
            name=op.f("fk_service_request_change_request_id_service_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_request_change")),
    )
    with op.batch_alter_table("service_request_change", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_service_request_change_request_id"), ["request_id"], unique=False)

    op.create_table(
        "service_request_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("at", civicdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(length=120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["service_request.id"],
            name=op.f("fk_service_request_note_request_id_service_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_request_note")),
    )
    with op.batch_alter_table("service_request_note", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_service_request_note_request_id"), ["request_id"], unique=False)

    with op.batch_alter_table("public_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reserved", sa.Integer(), nullable=False, server_default="0"))

    with op.batch_alter_table("service", schema=None) as batch_op:
        batch_op.add_column(sa.Column("location_required", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("service", schema=None) as batch_op:
        batch_op.drop_column("location_required")

    with op.batch_alter_table("public_event", schema=None) as batch_op:
        batch_op.drop_column("reserved")

    with op.batch_alter_table("service_request_note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_request_note_request_id"))

    op.drop_table("service_request_note")
    with op.batch_alter_table("service_request_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_request_change_request_id"))

    op.drop_table("service_request_change")
    with op.batch_alter_table("service_request_attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_request_attachment_request_id"))

    op.drop_table("service_request_attachment")
    with op.batch_alter_table("appointment_booking", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appointment_booking_slot_id"))

    op.drop_table("appointment_booking")
    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_request_status"))
        batch_op.drop_index(batch_op.f("ix_service_request_created_at"))

    op.drop_table("service_request")
    op.drop_table("form_request")
    with op.batch_alter_table("event_rsvp", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_rsvp_event_id"))

    op.drop_table("event_rsvp")
    op.drop_table("contact")
    op.drop_table("api_client")
