"""The published data exchange schemas by id, with the name Webex gives each (`serviceName` in
webex/dataSourceSchemas, b0d751f). Pages show the name and keep the id on hover; the API keeps
the id. An id not listed here (a schema published later) is shown as its id."""

PUBLISHED_SCHEMAS: dict[str, str] = {
    "5397013b-7920-4ffc-807c-e8a3e0a18f43": "Voice Virtual Agent Service",
    "a38a10b7-43e4-4676-a076-a7d6dce9387d": "Web Socket Voice Virtual Agent Service",
    "523e1b7f-4693-47bc-b84e-a7b7a505fb0b": "Conversation Audio forking Service",
    "1b2b7077-dbcd-4732-b2f9-296f9168168a": "Media Intelligence Forking Service",
}


def schema_name(schema_id: str) -> str:
    """The schema's published name, or its id when the portal does not know the name."""
    return PUBLISHED_SCHEMAS.get((schema_id or "").strip().lower(), schema_id)
