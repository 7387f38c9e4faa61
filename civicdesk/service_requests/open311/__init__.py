"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2): the catalogue and service requests for apps.

Every resource has one serializer (a pydantic model built from the database row) and `render` turns it into JSON
or the spec's XML; errors are the spec's array of {code, description} in either format. Service requests are
created through the same service layer as every other channel. Public answers never carry the resident's name,
email or phone: only what is needed to follow the problem on the street.
"""

from civicdesk.service_requests.open311.errors import Open311Error, render_error
from civicdesk.service_requests.open311.routes import router

__all__ = ["Open311Error", "render_error", "router"]
