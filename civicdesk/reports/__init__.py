"""Reports for supervisors and Council: figures from the database (`figures`) rendered as HTML, PDF or CSV
(`render`). The console's reports page includes the same figure templates."""

from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "templates"
