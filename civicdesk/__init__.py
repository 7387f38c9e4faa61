"""civicdesk core: database, service layer, web app and CLI of the contact centre's digital front door."""
