"""The API root (urls.py: /api/v1/, the schema and its documentation) and the API's own
endpoints (views.py: health). What every endpoint shares lives on the shared floor, core/api/."""
