"""What every API endpoint shares: permission, errors, paging, throttling, schema defaults.

Each app's endpoints live in its `api/` package (serializers, views, urls, filters); the API
root (`byods_portal.api.urls`) includes every installed app's `api/urls.py` it finds, so a new
app's endpoints are one file away.
"""
