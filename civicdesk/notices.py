"""Fixed wording the Region's privacy office and emergency services have approved, in one place.

The assistant keeps its own copy in bot/domain.yml (it runs in another environment); keep the two in step.
"""

NOTICE_OF_COLLECTION = (
    "Notice of collection: the personal information in your message is collected under the authority of the "
    "Municipal Act, 2001, and is used only to respond to your request, in accordance with the Municipal Freedom of "
    "Information and Protection of Privacy Act (MFIPPA). Questions about this collection can be directed to the "
    "Region's Access and Privacy Office at 905-555-0142 or privacy@northvale.ca."
)

EMERGENCY_INSTRUCTION = (
    "Email is not watched around the clock. If anyone is in danger, or for a fire or a smell of gas, call 911 now. "
    "For a flooded road, a water main break, a sewer backup or another urgent road, water or sewer problem outside "
    "office hours, call the Region's after-hours line at 905-555-0111."
)
